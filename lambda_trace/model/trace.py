"""The loaded trace: event columns, invocations, units of work, freezes and findings.

Events are held as `array` columns (25 bytes an event) and decoded again from the file on demand;
only invocations, works and findings are Python objects, and there are far fewer of those.
"""

from __future__ import annotations

import bisect
import os
from array import array
from dataclasses import dataclass, field
from typing import IO, Any

import orjson

from .events import EVENT_MODELS
from .offsets import LineOffsets
from .reader import Diagnostic, open_trace_bytes
from .works import Freeze, SpanStore, Work, WorkTable

KINDS: tuple[str, ...] = tuple(EVENT_MODELS)
"""Kind code -> kind name; code `OPAQUE` is any kind this version does not know."""
KIND_CODES: dict[str, int] = {k: i for i, k in enumerate(KINDS)}
OPAQUE = len(KINDS)


class EventColumns:
    """Every accepted event after the header, one entry per column; `event(i)` re-reads the line."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.ts = array("q")
        self.kind = array("b")
        """Index into `KINDS`, or `OPAQUE`."""
        self.inv = array("q")
        """-1 when the event's `inv` is null."""
        self.work = array("q")
        """-1 when the event names no work."""
        self.offset = LineOffsets(path)
        """Byte offset of the line in the (uncompressed) file (worked out when asked)."""
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
        self.offset.close()

    def nbytes(self) -> int:
        """Bytes held by the columns (for the memory benchmark)."""
        cols = (self.ts, self.kind, self.inv, self.work)
        return sum(c.buffer_info()[1] * c.itemsize for c in cols) + self.offset.nbytes()


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
    thawed_ns: int | None = None
    """`env.thaw` inside this invocation: when a warm invocation's environment resumed."""
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

    @property
    def resumed_ns(self) -> int:
        """When it began running: its start, or the thaw if that came later (warm invocations)."""
        if self.thawed_ns is not None and self.thawed_ns > self.start_ns:
            return self.thawed_ns
        return self.start_ns


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

DURATION_TIMINGS = frozenset({"frozen_ns", "into_ns", "held_ns", "waited_ns"})
"""Finding timings that are lengths; the others are instants (`ts`)."""
_FOCUS_TIMINGS = ("ran_ns", "error_ns", "first_ns", "respond_call_ns", "lost_ns", "dropped_ns")


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

    def when(self) -> int | None:
        """The instant the finding is about: where a timeline should look first."""
        for key in _FOCUS_TIMINGS:
            if key in self.timings:
                return self.timings[key]
        return self.timings.get("freeze_ns", self.timings.get("created_ns"))

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
    table: WorkTable
    freezes: list[Freeze]
    spans: SpanStore
    start_ns: int
    end_ns: int
    findings: list[Finding] = field(default_factory=list)
    _by_work: dict[int, list[Finding]] = field(default_factory=dict)
    _by_inv: dict[int | None, list[Finding]] = field(default_factory=dict)
    _created_in: dict[int, list[int]] | None = None
    _ran_in: dict[int, list[int]] | None = None
    _inv_index: dict[int, Invocation] = field(default_factory=dict)
    _works: list[Work] | None = None

    @property
    def profile(self) -> str:
        return str(self.header.get("profile", ""))

    @property
    def handler(self) -> str:
        return str(self.header.get("handler", ""))

    @property
    def works(self) -> list[Work]:
        """Every unit of work in creation order (views, made once)."""
        if self._works is None or len(self._works) != len(self.table):
            self._works = [Work(self.table, k) for k in range(len(self.table))]
        return self._works

    def work(self, work_id: int) -> Work:
        """The work with this id (KeyError if the trace has none)."""
        return Work(self.table, self.table.row[work_id])

    def has_work(self, work_id: int) -> bool:
        return work_id in self.table.row

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

    def _index_works(self) -> None:
        created: dict[int, list[int]] = {}
        ran: dict[int, list[int]] = {}
        t = self.table
        for k in range(len(t)):
            created.setdefault(t.created_in[k], []).append(k)
            more = t.ran_more.get(k)
            for m in more if more is not None else (t.ran_first[k],):
                if m >= 0:
                    ran.setdefault(m, []).append(k)
        self._created_in, self._ran_in = created, ran

    def findings_for_work(self, work_id: int) -> list[Finding]:
        """Findings about this work."""
        return list(self._by_work.get(work_id, ()))

    def findings_for_invocation(self, index: int | None) -> list[Finding]:
        """Findings listed under this invocation (None: those belonging to no invocation)."""
        return list(self._by_inv.get(index, ()))

    def invocation_at(self, ts: int) -> int | None:
        """The invocation current at `ts`: that of the first event at or after it (None at the
        end of the trace or between environments)."""
        events = self.events
        i = events.index_at(ts)
        if i < len(events):
            inv = events.inv[i]
            return None if inv < 0 else inv
        return None

    def works_created_in(self, index: int) -> list[Work]:
        """Works created in this invocation (0: during INIT of any environment)."""
        if self._created_in is None:
            self._index_works()
        assert self._created_in is not None
        return [Work(self.table, k) for k in self._created_in.get(index, ())]

    def works_ran_in(self, index: int) -> list[Work]:
        """Works that ran at least one step in this invocation."""
        if self._ran_in is None:
            self._index_works()
        assert self._ran_in is not None
        return [Work(self.table, k) for k in self._ran_in.get(index, ())]

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
