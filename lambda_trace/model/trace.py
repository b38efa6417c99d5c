"""The loaded trace: event columns, invocations, units of work, freezes and findings.

Events are held as `array` columns (~45 bytes an event) and decoded again from the file on demand;
only invocations, works and findings are Python objects, and there are far fewer of those.
"""

from __future__ import annotations

import bisect
import gzip
import os
from array import array
from dataclasses import dataclass, field
from typing import IO, Any, Literal

import orjson

from .events import EVENT_MODELS
from .reader import Diagnostic, open_trace_bytes

KINDS: tuple[str, ...] = tuple(EVENT_MODELS)
"""Kind code -> kind name; code `OPAQUE` is any kind this version does not know."""
KIND_CODES: dict[str, int] = {k: i for i, k in enumerate(KINDS)}
OPAQUE = len(KINDS)

SegmentState = Literal["running", "waiting", "frozen"]
Freeze = tuple[int, int | None, int]
"""(freeze_ns, thaw_ns or None when it never thawed, invocation index it followed)."""


class EventColumns:
    """Every accepted event after the header, one entry per column; `event(i)` re-reads the line."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.seq = array("q")
        self.ts = array("q")
        self.kind = array("b")
        """Index into `KINDS`, or `OPAQUE`."""
        self.inv = array("q")
        """-1 when the event's `inv` is null."""
        self.work = array("q")
        """-1 when the event names no work."""
        self.offset = array("q")
        """Byte offset of the line in the (uncompressed) file."""
        self._file: IO[bytes] | None = None

    def __len__(self) -> int:
        return len(self.ts)

    def kind_name(self, i: int) -> str:
        """Kind of event i (`"?"` for a kind this version does not know; `event(i)` has it)."""
        code = self.kind[i]
        return KINDS[code] if code < OPAQUE else "?"

    def event(self, i: int) -> dict[str, Any]:
        """Decode event i from the file (seeks; slow for gzip traces read backwards)."""
        if self._file is None:
            self._file = open_trace_bytes(self.path)
        self._file.seek(self.offset[i])
        obj: dict[str, Any] = orjson.loads(self._file.readline())
        return obj

    def index_at(self, ts: int) -> int:
        """Index of the first event with `ts` >= the given time (len() if none)."""
        return bisect.bisect_left(self.ts, ts)

    def close(self) -> None:
        """Close the file handle `event()` keeps open."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def nbytes(self) -> int:
        """Bytes held by the columns (for the memory benchmark)."""
        cols = (self.seq, self.ts, self.kind, self.inv, self.work, self.offset)
        return sum(c.buffer_info()[1] * c.itemsize for c in cols)


@dataclass(slots=True, eq=False)
class Invocation:
    """One invocation, numbered 1..N across the trace (across environment resets).

    Times are `ts` values (ns since trace start, frozen time included). `end_ns` is `invoke.end`
    (same instant as the response post); `last_ns` the last event of the invocation (the loop
    turn before the freeze); `thaw_ns` ends the freeze that followed this invocation.
    """

    index: int
    request_id: str
    env: int
    cold: bool
    start_ns: int
    deadline_ns: int
    end_ns: int | None = None
    last_ns: int | None = None
    respond_call_ns: int | None = None
    """First accepted `respond.call`: the handler signalled completion."""
    respond_via: str | None = None
    """How the handler answered (the accepted `respond.call`)."""
    respond_post_ns: int | None = None
    response_via: str | None = None
    """`via` of the post: None when the runtime answered for the handler."""
    response_status: str | None = None
    held_ns: int = 0
    held_by: list[int] = field(default_factory=list)
    freeze_ns: int | None = None
    thaw_ns: int | None = None
    outcome: str | None = None
    """success | error | timeout | crash; None when the trace ends before the invocation does."""
    error_type: str | None = None
    error_message: str | None = None
    duration_ns: int | None = None
    handler_work: int | None = None
    pending_at_freeze: list[int] = field(default_factory=list)
    """Work genuinely unfinished at the freeze (the emulator's list, less work already settled)."""
    raw_pending: list[int] = field(default_factory=list)
    """`env.freeze.pending` as written."""
    ignored_calls: int = 0
    """`respond.call` events the runtime ignored (a second callback, ...)."""


@dataclass(slots=True, eq=False)
class Env:
    """One execution environment: INIT, its invocations, its end."""

    env: int
    init_start_ns: int
    init_end_ns: int | None = None
    init_ok: bool | None = None
    error_type: str | None = None
    error_message: str | None = None
    shutdown_ns: int | None = None
    shutdown_reason: str | None = None
    lost: list[int] = field(default_factory=list)
    exit_code: int | None = None


class SpanStore:
    """Running spans of every work in columns; each work links its spans through `next`."""

    def __init__(self) -> None:
        self.begin = array("q")
        self.end = array("q")
        self.inv = array("q")
        self.next = array("q")

    def add(self, begin: int, end: int, inv: int) -> int:
        self.begin.append(begin)
        self.end.append(end)
        self.inv.append(inv)
        self.next.append(-1)
        return len(self.begin) - 1

    def nbytes(self) -> int:
        cols = (self.begin, self.end, self.inv, self.next)
        return sum(c.buffer_info()[1] * c.itemsize for c in cols)


@dataclass(slots=True, eq=False)
class Work:
    """One unit of work: a task, timer, callback, thread, executor job or io handle."""

    id: int
    type: str
    name: str
    site: str
    stack: tuple[str, ...]
    parent: int | None
    created_in: int | None
    """Invocation it was created in (0 = INIT); None when created between environments."""
    created_ns: int
    env: int | None
    role: str | None = None
    ref: bool = True
    delay_ns: int | None = None
    status: str | None = None
    """ok | error | cancelled, or None while unfinished."""
    done_ns: int | None = None
    cancel_ns: int | None = None
    cancel_reason: str | None = None
    cancel_inv: int | None = None
    error_type: str | None = None
    error_message: str | None = None
    ran_in: list[int] = field(default_factory=list)
    """Sorted, distinct invocations in which it ran a step."""
    lost_ns: int | None = None
    """When its environment ended with it pending (it never ran again)."""
    open_ns: int = -1
    open_inv: int = -1
    freezes_at_create: int = 0
    cross_ns: int = -1
    """First step run in another invocation after a freeze (-1: never crossed)."""
    cross_inv: int = -1
    span_head: int = -1
    span_tail: int = -1
    store: SpanStore | None = None

    @property
    def spans(self) -> list[tuple[int, int, int]]:
        """Running spans as (begin_ns, end_ns, invocation), in time order."""
        out: list[tuple[int, int, int]] = []
        store, i = self.store, self.span_head
        while store is not None and i >= 0:
            out.append((store.begin[i], store.end[i], store.inv[i]))
            i = store.next[i]
        return out

    def label(self) -> str:
        """`timer `name` (site)` as the messages write it."""
        kind = "handler" if self.role == "handler" else self.type
        return f"{kind} `{self.name}` ({self.site})"

    def end_of_life(self, trace_end_ns: int) -> int:
        """When it stopped existing: done, lost with its environment, or the end of the trace."""
        if self.done_ns is not None:
            return self.done_ns
        if self.lost_ns is not None:
            return self.lost_ns
        return trace_end_ns

    def segments(
        self, freezes: list[Freeze], trace_end_ns: int
    ) -> list[tuple[int, int, SegmentState]]:
        """Its life from creation cut into (start, end, running|waiting|frozen) pieces."""
        start, stop = self.created_ns, self.end_of_life(trace_end_ns)
        cuts: list[tuple[int, int, SegmentState]] = []
        for b, e, _inv in self.spans:
            cuts.append((b, e, "running"))
        for f, t, _inv in freezes:
            end = t if t is not None else trace_end_ns
            if end > start and f < stop:
                cuts.append((max(f, start), min(end, stop), "frozen"))
        cuts.sort()
        out: list[tuple[int, int, SegmentState]] = []
        at = start
        for b, e, state in cuts:
            if b > at:
                out.append((at, b, "waiting"))
            b = max(b, at)
            if e > b:
                out.append((b, e, state))
                at = e
        if stop > at:
            out.append((at, stop, "waiting"))
        return out

    def state_at(self, ts: int, freezes: list[Freeze], trace_end_ns: int) -> SegmentState | None:
        """running | waiting | frozen at `ts`, or None outside its life."""
        for b, e, state in self.segments(freezes, trace_end_ns):
            if b <= ts < e:
                return state
        return None


CATEGORIES: tuple[str, ...] = (
    "crossed_invocation",
    "pending_at_freeze",
    "lost",
    "dropped",
    "held_response",
    "timeout_keepalive",
    "error_misattributed",
    "log_misattributed",
    "kept_alive",
)
"""Finding categories (DESIGN.md, contract), in report order."""
INFORMATIONAL: frozenset[str] = frozenset({"kept_alive"})
"""Categories that are not leaks: `report --fail-on-leak` ignores them."""


@dataclass(slots=True, eq=False)
class Finding:
    """One problem (or, for `kept_alive`, one observation) about a unit of work or invocation."""

    category: str
    work: int | None
    type: str | None
    name: str | None
    site: str | None
    created_in: int | None
    ran_in: list[int]
    invocation: int | None
    """The invocation it is listed under: where it shows."""
    message: str
    timings: dict[str, int] = field(default_factory=dict)
    """Values in ns, keys ending in `_ns`."""
    details: dict[str, Any] = field(default_factory=dict)
    """Extra facts by category (held_by ids, request ids, error type, line count...)."""
    id: int = -1
    """Position in `Trace.findings`."""

    @property
    def is_leak(self) -> bool:
        """Everything except informational findings."""
        return self.category not in INFORMATIONAL

    def to_json(self) -> dict[str, Any]:
        """The finding object of the `lambda-trace.report/1` document."""
        return {
            "id": self.id,
            "category": self.category,
            "work": self.work,
            "type": self.type,
            "name": self.name,
            "site": self.site,
            "created_in": self.created_in,
            "ran_in": list(self.ran_in),
            "invocation": self.invocation,
            "message": self.message,
            "timings": dict(self.timings),
            **self.details,
        }


@dataclass(eq=False)
class Trace:
    """A loaded trace: what `load_trace` returns and every view reads."""

    path: str
    header: dict[str, Any]
    diagnostics: list[Diagnostic]
    diagnostic_count: int
    error_count: int
    truncated: bool
    events: EventColumns
    invocations: list[Invocation]
    envs: list[Env]
    works_by_id: dict[int, Work]
    freezes: list[Freeze]
    spans: SpanStore
    start_ns: int
    end_ns: int
    findings: list[Finding] = field(default_factory=list)
    _by_work: dict[int, list[Finding]] = field(default_factory=dict)
    _by_inv: dict[int | None, list[Finding]] = field(default_factory=dict)
    _created_in: dict[int | None, list[Work]] = field(default_factory=dict)
    _ran_in: dict[int, list[Work]] = field(default_factory=dict)
    _inv_index: dict[int, Invocation] = field(default_factory=dict)

    @property
    def profile(self) -> str:
        return str(self.header.get("profile", ""))

    @property
    def handler(self) -> str:
        return str(self.header.get("handler", ""))

    @property
    def works(self) -> list[Work]:
        """Every unit of work in creation order."""
        return list(self.works_by_id.values())

    def work(self, work_id: int) -> Work:
        """The work with this id (KeyError if the trace has none)."""
        return self.works_by_id[work_id]

    def invocation(self, index: int) -> Invocation:
        """Invocation by its 1-based index (KeyError if absent)."""
        if not self._inv_index:
            self._inv_index = {inv.index: inv for inv in self.invocations}
        return self._inv_index[index]

    def set_findings(self, findings: list[Finding]) -> None:
        """Install the analysis results and index them by work and by invocation."""
        self.findings = findings
        self._by_work = {}
        self._by_inv = {}
        for i, f in enumerate(findings):
            f.id = i
            if f.work is not None:
                self._by_work.setdefault(f.work, []).append(f)
            self._by_inv.setdefault(f.invocation, []).append(f)

    def index_works(self) -> None:
        """Build the created-in / ran-in indexes (once, after loading)."""
        self._created_in = {}
        self._ran_in = {}
        for w in self.works_by_id.values():
            self._created_in.setdefault(w.created_in, []).append(w)
            for m in w.ran_in:
                self._ran_in.setdefault(m, []).append(w)

    def findings_for_work(self, work_id: int) -> list[Finding]:
        """Findings about this work."""
        return list(self._by_work.get(work_id, ()))

    def findings_for_invocation(self, index: int | None) -> list[Finding]:
        """Findings listed under this invocation (None: those belonging to no invocation)."""
        return list(self._by_inv.get(index, ()))

    def works_created_in(self, index: int) -> list[Work]:
        """Works created in this invocation (0: during INIT of any environment)."""
        return list(self._created_in.get(index, ()))

    def works_ran_in(self, index: int) -> list[Work]:
        """Works that ran at least one step in this invocation."""
        return list(self._ran_in.get(index, ()))

    @property
    def leaks(self) -> list[Finding]:
        """Findings other than informational ones."""
        return [f for f in self.findings if f.is_leak]

    def close(self) -> None:
        """Release the file handle kept for lazy event decoding."""
        self.events.close()


def file_size(path: str | os.PathLike[str]) -> int:
    """Size on disk (compressed size for gzip traces): the denominator of load progress."""
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def is_gzip(stream: IO[bytes]) -> bool:
    return isinstance(stream, gzip.GzipFile)
