"""Differences between two invocations (of one trace or two): the model behind `lambda-trace diff`.

`diff_traces(a, b, sel_a, sel_b)` pairs invocations (`@N` on the command line, or by index),
aligns their work (`align.py`) and compares, relative to each invocation's `invoke.start`:
response path, outcome and held time; work only on one side; each work's findings (category and
the invocation, relative to this one, where each shows), its fate (finished here, in a later
invocation, pending, lost), what was pending at the freeze, errors; timings above a threshold.

The `lambda-trace.diff/1` document (`diff --json`; docs/DIFF.md has it with an example)::

    {"schema": "lambda-trace.diff/1",
     "a": {"trace", "handler", "profile", "invocations"},  "b": {...},
     "threshold": {"ratio", "min_ms"},
     "equivalent": bool,
     "pairs": [{
        "a": INVOCATION, "b": INVOCATION,
        "equivalent": bool,
        "changes": [{"field", "a", "b"}],        # invocation level
        "rows": [{
            "kind": "same|removed|added|findings|fate|pending|timing|error|renamed|moved",
            "kinds": [...],                       # every kind of change, most important first
            "match": "same|renamed|moved|added|removed",
            "a": WORK | null, "b": WORK | null,
            "findings": {"removed": [FINDING], "added": [FINDING]},
            "changes": [{"field", "a", "b"}]}],   # work level
        "summary": {"rows", "same", "changed", "added", "removed", "by_kind": {kind: n}}}],
     "unpaired": {"a": [index], "b": [index]},
     "summary": {"pairs", "equivalent_pairs", "differences"}}

    INVOCATION = {"index", "request_id", "env", "cold", "outcome", "respond_via", "response_via",
                  "status", "error_type", "answered_ms", "held_ms", "held_by", "duration_ms",
                  "pending_at_freeze"}
    WORK = {"work", "type", "name", "site", "role", "origin": "here|init|earlier", "created_in",
            "created_ms", "done_ms", "running_ms", "fate", "finished_in", "status",
            "error_type", "pending_at_freeze", "findings": [FINDING]}
    FINDING = {"category", "at": offset of its invocation from this one (0 here, 1 the next),
               "message"}

Times (`*_ms`) are relative to each invocation's start; `finished_in` and `at` are offsets in
invocations (0: this one). Fields of `changes` are the JSON field names; values as in the objects.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from typing import Any
from weakref import WeakKeyDictionary

from .align import ORIGINS, How, Side, align_rows
from .gcpause import gc_paused
from .trace import Invocation, Trace
from .works import STATUSES, WORK_TYPES, SpanStore, Work

DIFF_SCHEMA = "lambda-trace.diff/1"

KINDS: tuple[str, ...] = (
    "removed",
    "added",
    "findings",
    "fate",
    "pending",
    "error",
    "timing",
    "renamed",
    "moved",
)
"""Kinds of change of a row, most important first; a row's `kind` is the first of its kinds."""


# -- threshold ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Threshold:
    """A timing change counts when it is at least `min_ns` and more than `ratio` of the larger."""

    ratio: float = 0.2
    min_ns: int = 1_000_000

    def exceeded(self, a: int, b: int) -> bool:
        delta = abs(a - b)
        if delta == 0 or delta < self.min_ns:
            return False
        return delta > self.ratio * max(abs(a), abs(b))

    def to_json(self) -> dict[str, float]:
        return {"ratio": self.ratio, "min_ms": self.min_ns / 1_000_000}


DEFAULT_THRESHOLD = Threshold()
"""20% and at least 1 ms: a virtual clock's steps (10 µs) and wall-clock jitter stay quiet."""

_PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")


def parse_threshold(text: str | None) -> Threshold:
    """`20%`, `5ms`, or both (`20%,5ms`). A percentage alone keeps the 1 ms floor; a duration
    alone reports any change at least that large. ValueError with the reason otherwise."""
    from .units import parse_duration_ns

    if text is None:
        return DEFAULT_THRESHOLD
    ratio: float | None = None
    min_ns: int | None = None
    for part in text.split(","):
        m = _PERCENT.match(part)
        try:
            if m is not None:
                if ratio is not None:
                    raise ValueError
                ratio = float(m.group(1)) / 100
            else:
                if min_ns is not None:
                    raise ValueError
                min_ns = parse_duration_ns(part)
        except ValueError:
            raise ValueError(f"invalid threshold {text!r} (use e.g. 20%, 5ms or 20%,5ms)") from None
    if ratio is None:
        return Threshold(0.0, min_ns or 0)
    return Threshold(ratio, DEFAULT_THRESHOLD.min_ns if min_ns is None else min_ns)


# -- facts of one side ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FindingFact:
    """A finding about a work as the diff compares it: category and where it shows."""

    category: str
    at: int | None
    """Offset of the invocation it is listed under from the compared one (0: that one)."""
    message: str

    @property
    def key(self) -> tuple[str, int | None]:
        return (self.category, self.at)

    def to_json(self) -> dict[str, Any]:
        return {"category": self.category, "at": self.at, "message": self.message}


@dataclass(slots=True)
class WorkFacts:
    """What one side's work did, relative to its invocation."""

    work: int
    type: str
    name: str
    site: str
    role: str | None
    origin: str
    created_in: int | None
    created_ns: int
    done_ns: int | None
    running_ns: int
    fate: str
    """ok | error | cancelled (finished), lost (its environment ended), pending (trace ended)."""
    finished_in: int | None
    """Offset of the invocation it finished in (0: this one); None when it never finished."""
    status: str | None
    error_type: str | None
    pending_at_freeze: bool
    findings: list[FindingFact]

    def label(self) -> str:
        kind = "handler" if self.role == "handler" else self.type
        return f"{kind} `{self.name}` ({self.site})"

    def to_json(self) -> dict[str, Any]:
        return {
            "work": self.work,
            "type": self.type,
            "name": self.name,
            "site": self.site,
            "role": self.role,
            "origin": self.origin,
            "created_in": self.created_in,
            "created_ms": _ms(self.created_ns),
            "done_ms": _ms(self.done_ns),
            "running_ms": _ms(self.running_ns),
            "fate": self.fate,
            "finished_in": self.finished_in,
            "status": self.status,
            "error_type": self.error_type,
            "pending_at_freeze": self.pending_at_freeze,
            "findings": [f.to_json() for f in self.findings],
        }


@dataclass(slots=True)
class InvocationFacts:
    """One side's invocation, with times relative to its start."""

    index: int
    request_id: str
    env: int
    cold: bool
    outcome: str | None
    respond_via: str | None
    response_via: str | None
    status: str | None
    error_type: str | None
    answered_ns: int | None
    held_ns: int
    held_by: list[str]
    """Labels of the work that held the response."""
    duration_ns: int | None
    pending_at_freeze: list[str]
    """Labels of the work pending at the freeze."""
    start_ns: int
    """Absolute start (trace time), for drawing."""
    span_ns: int
    """From the start to the freeze (or the invocation's last event), for drawing."""

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "request_id": self.request_id,
            "env": self.env,
            "cold": self.cold,
            "outcome": self.outcome,
            "respond_via": self.respond_via,
            "response_via": self.response_via,
            "status": self.status,
            "error_type": self.error_type,
            "answered_ms": _ms(self.answered_ns),
            "held_ms": _ms(self.held_ns),
            "held_by": list(self.held_by),
            "duration_ms": _ms(self.duration_ns),
            "pending_at_freeze": list(self.pending_at_freeze),
        }


@dataclass(frozen=True, slots=True)
class Change:
    """One field that differs: its JSON name and the two values (ns for times)."""

    field: str
    a: Any
    b: Any
    timing: bool = False

    def to_json(self) -> dict[str, Any]:
        if self.timing:
            return {"field": self.field, "a": _ms(self.a), "b": _ms(self.b)}
        return {"field": self.field, "a": self.a, "b": self.b}


class Row:
    """An aligned pair of work (or one side alone) and how it changed.

    The facts of each side (`a`, `b`) and its `Work` views are made on first use: a diff of
    100k-event invocations has ~17k rows, most of them unchanged and never looked at.
    """

    __slots__ = (
        "_a",
        "_a_work",
        "_b",
        "_b_work",
        "_src",
        "changes",
        "findings_added",
        "findings_removed",
        "kinds",
        "match",
    )

    def __init__(
        self,
        match: str,
        a: WorkFacts | None,
        b: WorkFacts | None,
        kinds: list[str] | None = None,
        findings_removed: list[FindingFact] | None = None,
        findings_added: list[FindingFact] | None = None,
        changes: list[Change] | None = None,
        a_work: Work | None = None,
        b_work: Work | None = None,
    ) -> None:
        self.match = match
        self.kinds: list[str] = [] if kinds is None else kinds
        self.findings_removed: list[FindingFact] = (
            [] if findings_removed is None else findings_removed
        )
        self.findings_added: list[FindingFact] = [] if findings_added is None else findings_added
        self.changes: list[Change] = [] if changes is None else changes
        self._src: tuple[_Facts, int, _Facts, int] | None = None
        self._a, self._b = a, b
        self._a_work, self._b_work = a_work, b_work

    @classmethod
    def _lazy(
        cls,
        match: str,
        src: tuple[_Facts, int, _Facts, int],
        kinds: list[str],
        findings_removed: list[FindingFact],
        findings_added: list[FindingFact],
        changes: list[Change],
    ) -> Row:
        """A row whose facts and views are made from the table rows in `src` (fa, ka, fb, kb;
        -1: no work on that side) when first asked for."""
        row = cls.__new__(cls)
        row.match = match
        row.kinds = kinds
        row.findings_removed = findings_removed
        row.findings_added = findings_added
        row.changes = changes
        row._src = src
        return row

    def _side(self, side: int) -> tuple[_Facts, int]:
        assert self._src is not None
        return self._src[2 * side], self._src[2 * side + 1]  # type: ignore[return-value]

    @property
    def a(self) -> WorkFacts | None:
        try:
            return self._a
        except AttributeError:
            facts, k = self._side(0)
            self._a = None if k < 0 else facts.facts(k)
            return self._a

    @a.setter
    def a(self, value: WorkFacts | None) -> None:
        self._a = value

    @property
    def b(self) -> WorkFacts | None:
        try:
            return self._b
        except AttributeError:
            facts, k = self._side(1)
            self._b = None if k < 0 else facts.facts(k)
            return self._b

    @b.setter
    def b(self, value: WorkFacts | None) -> None:
        self._b = value

    @property
    def a_work(self) -> Work | None:
        try:
            return self._a_work
        except AttributeError:
            facts, k = self._side(0)
            self._a_work = None if k < 0 else Work(facts.table, k)
            return self._a_work

    @a_work.setter
    def a_work(self, value: Work | None) -> None:
        self._a_work = value

    @property
    def b_work(self) -> Work | None:
        try:
            return self._b_work
        except AttributeError:
            facts, k = self._side(1)
            self._b_work = None if k < 0 else Work(facts.table, k)
            return self._b_work

    @b_work.setter
    def b_work(self, value: Work | None) -> None:
        self._b_work = value

    def __repr__(self) -> str:
        return f"Row({self.match!r}, kinds={self.kinds!r}, a={self.a!r}, b={self.b!r})"

    @property
    def kind(self) -> str:
        """The most important kind of change, or `same`."""
        return self.kinds[0] if self.kinds else "same"

    @property
    def changed(self) -> bool:
        return bool(self.kinds)

    @property
    def either(self) -> WorkFacts:
        facts = self.a
        if facts is None:
            facts = self.b
        assert facts is not None
        return facts

    def to_json(self) -> dict[str, Any]:
        a, b = self.a, self.b
        return {
            "kind": self.kind,
            "kinds": list(self.kinds),
            "match": self.match,
            "a": None if a is None else a.to_json(),
            "b": None if b is None else b.to_json(),
            "findings": {
                "removed": [f.to_json() for f in self.findings_removed],
                "added": [f.to_json() for f in self.findings_added],
            },
            "changes": [c.to_json() for c in self.changes],
        }


@dataclass(slots=True)
class PairDiff:
    """The differences between one invocation of A and one of B."""

    a_trace: Trace
    b_trace: Trace
    a: InvocationFacts
    b: InvocationFacts
    changes: list[Change]
    rows: list[Row]

    @property
    def equivalent(self) -> bool:
        return not self.changes and not any(r.changed for r in self.rows)

    @property
    def differences(self) -> int:
        """Invocation-level changes plus changed rows."""
        return len(self.changes) + sum(1 for r in self.rows if r.changed)

    def summary(self) -> dict[str, Any]:
        by_kind = dict.fromkeys(KINDS, 0)
        for r in self.rows:
            for k in r.kinds:
                by_kind[k] += 1
        return {
            "rows": len(self.rows),
            "same": sum(1 for r in self.rows if not r.changed),
            "changed": sum(1 for r in self.rows if r.changed and r.a and r.b),
            "added": by_kind["added"],
            "removed": by_kind["removed"],
            "by_kind": by_kind,
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "a": self.a.to_json(),
            "b": self.b.to_json(),
            "equivalent": self.equivalent,
            "changes": [c.to_json() for c in self.changes],
            "rows": [r.to_json() for r in self.rows],
            "summary": self.summary(),
        }


@dataclass(slots=True)
class Diff:
    """Every compared pair, and the invocations left without a partner."""

    a: Trace
    b: Trace
    threshold: Threshold
    pairs: list[PairDiff]
    unpaired_a: list[int] = field(default_factory=list)
    unpaired_b: list[int] = field(default_factory=list)

    @property
    def equivalent(self) -> bool:
        return not self.unpaired_a and not self.unpaired_b and all(p.equivalent for p in self.pairs)

    def to_json(self) -> dict[str, Any]:
        """The `lambda-trace.diff/1` document."""
        return {
            "schema": DIFF_SCHEMA,
            "a": _trace_json(self.a),
            "b": _trace_json(self.b),
            "threshold": self.threshold.to_json(),
            "equivalent": self.equivalent,
            "pairs": [p.to_json() for p in self.pairs],
            "unpaired": {"a": list(self.unpaired_a), "b": list(self.unpaired_b)},
            "summary": {
                "pairs": len(self.pairs),
                "equivalent_pairs": sum(1 for p in self.pairs if p.equivalent),
                "differences": sum(p.differences for p in self.pairs)
                + len(self.unpaired_a)
                + len(self.unpaired_b),
            },
        }


def _trace_json(t: Trace) -> dict[str, Any]:
    return {
        "trace": t.path,
        "handler": t.handler,
        "profile": t.profile,
        "invocations": len(t.invocations),
    }


def _ms(ns: int | None) -> float | None:
    return None if ns is None else round(ns / 1_000_000, 3)


# -- building -------------------------------------------------------------------------------------


def diff_traces(
    a: Trace,
    b: Trace,
    sel_a: int | None = None,
    sel_b: int | None = None,
    *,
    threshold: Threshold = DEFAULT_THRESHOLD,
) -> Diff:
    """Compare invocation `sel_a` of `a` with `sel_b` of `b`; with neither, every pair by index.

    Raises KeyError when a selected invocation is absent (callers check first).
    """
    if sel_a is not None or sel_b is not None:
        ia = a.invocation(sel_a if sel_a is not None else sel_b or 0)
        ib = b.invocation(sel_b if sel_b is not None else sel_a or 0)
        return Diff(a, b, threshold, [diff_invocations(a, ia, b, ib, threshold=threshold)])
    n = min(len(a.invocations), len(b.invocations))
    if n > 1:
        for t in (a, b):  # index work by invocation once (participants of every pair)
            if t._created_in is None or t._ran_in is None:
                t._index_works()
    pairs = [
        diff_invocations(a, a.invocations[i], b, b.invocations[i], threshold=threshold)
        for i in range(n)
    ]
    return Diff(
        a,
        b,
        threshold,
        pairs,
        [inv.index for inv in a.invocations[n:]],
        [inv.index for inv in b.invocations[n:]],
    )


def diff_invocations(
    a: Trace,
    inv_a: Invocation,
    b: Trace,
    inv_b: Invocation,
    *,
    threshold: Threshold = DEFAULT_THRESHOLD,
) -> PairDiff:
    """Align and compare two invocations."""
    with gc_paused():  # tens of thousands of rows, none in a cycle
        side_a, side_b = Side.of(a, inv_a), Side.of(b, inv_b)
        facts_a, facts_b = _Facts(side_a), _Facts(side_b)
        rows = _rows(align_rows(side_a, side_b), facts_a, facts_b, threshold)
        ia, ib = facts_a.invocation(), facts_b.invocation()
        return PairDiff(a, b, ia, ib, _invocation_changes(ia, ib, threshold), rows)


_RUNNING: WeakKeyDictionary[SpanStore, tuple[int, dict[int, int]]] = WeakKeyDictionary()
"""Running totals by span store, kept while it lives and has as many spans (many pairs)."""


def _running(trace: Trace) -> dict[int, int]:
    """Work id -> total running time (ns) over all its spans (one pass, kept for the trace)."""
    spans = trace.spans
    n = len(spans)
    cached = _RUNNING.get(spans)
    if cached is not None and cached[0] == n:
        return cached[1]
    ts, work = spans._ts, spans._work
    out: dict[int, int] = {}
    get = out.get
    for f, last in zip(spans.first, spans.last, strict=True):
        wid = work[f]
        out[wid] = get(wid, 0) + (ts[last] - ts[f])
    _RUNNING[spans] = (n, out)
    return out


class _Facts:
    """Facts of one side, read from the table's columns, with the look-ups made once."""

    def __init__(self, side: Side) -> None:
        self.side = side
        self.trace = side.trace
        self.table = side.trace.table
        self.inv = side.inv
        invocations = self.trace.invocations
        self.starts = [i.start_ns for i in invocations]
        self.indexes = [i.index for i in invocations]
        self.pending = set(side.inv.pending_at_freeze)
        self.running = _running(self.trace)
        # [lo, hi): the times `inv_offset` maps to 0 without a search (most look-ups).
        p = bisect.bisect_right(self.starts, side.inv.start_ns)
        ok = p > 0 and self.indexes[p - 1] == side.inv.index
        self._lo = self.starts[p - 1] if ok else 0
        self._hi = (self.starts[p] if p < len(self.starts) else 1 << 63) if ok else 0

    def inv_offset(self, ts: int) -> int | None:
        """Offset (in invocations) from this one of the invocation `ts` falls in."""
        if self._lo <= ts < self._hi:
            return 0
        k = bisect.bisect_right(self.starts, ts)
        if not k:
            return None
        return self.indexes[k - 1] - self.inv.index

    def fate(self, k: int) -> str:
        status = STATUSES[self.table.status[k]]
        if status is not None:
            return status
        return "lost" if k in self.table.lost_ns else "pending"

    def findings(self, wid: int) -> list[FindingFact]:
        index = self.inv.index
        findings = [
            FindingFact(
                f.category, None if f.invocation is None else f.invocation - index, f.message
            )
            for f in self.trace._by_work.get(wid, ())
        ]
        if len(findings) > 1:
            findings.sort(key=lambda f: (f.category, -(10**9) if f.at is None else f.at))
        return findings

    def facts(self, k: int) -> WorkFacts:
        """The facts of row `k` of the table."""
        t, start = self.table, self.inv.start_ns
        wid = t.id[k]
        done = t.done_ns[k]
        created_in = t.created_in[k]
        error = t.error.get(k)
        return WorkFacts(
            work=wid,
            type=WORK_TYPES[t.flags[k] & 7],
            name=t.name[k],
            site=t.site[k],
            role="handler" if t.is_handler(k) else None,
            origin=ORIGINS[self.side.origin_code(k)],
            created_in=None if created_in < 0 else created_in,
            created_ns=t.created_ns[k] - start,
            done_ns=None if done < 0 else done - start,
            running_ns=self.running.get(wid, 0),
            fate=self.fate(k),
            finished_in=None if done < 0 else self.inv_offset(done),
            status=STATUSES[t.status[k]],
            error_type=None if error is None else error[0],
            pending_at_freeze=wid in self.pending,
            findings=self.findings(wid),
        )

    def work(self, w: Work) -> WorkFacts:
        return self.facts(w.row)

    def _labels(self, ids: list[int]) -> list[str]:
        t = self.trace
        out = []
        for wid in ids:
            if t.has_work(wid):
                w = t.work(wid)
                kind = "handler" if w.role == "handler" else w.type
                out.append(f"{kind} `{w.name}` ({w.site})")
            else:
                out.append(f"work {wid}")
        return out

    def invocation(self) -> InvocationFacts:
        inv = self.inv
        last = inv.freeze_ns or inv.last_ns or inv.end_ns or inv.start_ns
        return InvocationFacts(
            index=inv.index,
            request_id=inv.request_id,
            env=inv.env,
            cold=inv.cold,
            outcome=inv.outcome,
            respond_via=inv.respond_via,
            response_via=inv.response_via,
            status=inv.response_status,
            error_type=inv.error_type,
            answered_ns=None if inv.respond_call_ns is None else inv.respond_call_ns - inv.start_ns,
            held_ns=inv.held_ns,
            held_by=self._labels(inv.held_by),
            duration_ns=inv.duration_ns,
            pending_at_freeze=self._labels(inv.pending_at_freeze),
            start_ns=inv.start_ns,
            span_ns=max(last - inv.start_ns, 0),
        )


_PLAIN_FIELDS = ("cold", "outcome", "respond_via", "response_via", "status", "error_type")
_TIMED_FIELDS = (("answered_ns", "answered_ms"), ("held_ns", "held_ms"))


def _invocation_changes(a: InvocationFacts, b: InvocationFacts, th: Threshold) -> list[Change]:
    out = [Change(f, getattr(a, f), getattr(b, f)) for f in _PLAIN_FIELDS]
    out = [c for c in out if c.a != c.b]
    for attr, name in (*_TIMED_FIELDS, ("duration_ns", "duration_ms")):
        va, vb = getattr(a, attr), getattr(b, attr)
        if va is None or vb is None:
            if va != vb:
                out.append(Change(name, va, vb, timing=True))
        elif th.exceeded(va, vb):
            out.append(Change(name, va, vb, timing=True))
    if sorted(a.held_by) != sorted(b.held_by):
        out.append(Change("held_by", a.held_by, b.held_by))
    if sorted(a.pending_at_freeze) != sorted(b.pending_at_freeze):
        out.append(Change("pending_at_freeze", a.pending_at_freeze, b.pending_at_freeze))
    return out


def _rows(matches: list[tuple[int, int, How]], fa: _Facts, fb: _Facts, th: Threshold) -> list[Row]:
    """Compare aligned rows straight from the columns: what `WorkFacts` of both sides would say,
    without making them (rows build them when asked)."""
    ta, tb = fa.table, fb.table
    id_a, id_b = ta.id, tb.id
    status_a, status_b = ta.status, tb.status
    done_a, done_b = ta.done_ns, tb.done_ns
    created_a, created_b = ta.created_ns, tb.created_ns
    cin_a = ta.created_in
    error_a, error_b = ta.error, tb.error
    lost_a, lost_b = ta.lost_ns, tb.lost_ns
    run_a, run_b = fa.running, fb.running
    pend_a, pend_b = fa.pending, fb.pending
    byw_a, byw_b = fa.trace._by_work, fb.trace._by_work
    start_a, start_b = fa.inv.start_ns, fb.inv.start_ns
    here_a = fa.inv.index
    # `finished_in`: 0 without a search when done within the invocation (most work).
    off_a, off_b = fa.inv_offset, fb.inv_offset
    lo_a, hi_a, lo_b, hi_b = fa._lo, fa._hi, fb._lo, fb._hi
    ratio, min_ns = th.ratio, th.min_ns
    lazy = Row._lazy
    out: list[Row] = []
    append = out.append
    for ka, kb, how in matches:
        if ka < 0 or kb < 0:
            append(lazy(how, (fa, ka, fb, kb), ["removed" if kb < 0 else "added"], [], [], []))
            continue
        wa, wb = id_a[ka], id_b[kb]
        changes: list[Change] = []
        kinds: set[str] | None = None
        removed: list[FindingFact] = []
        added: list[FindingFact] = []
        if wa in byw_a or wb in byw_b:
            fs_a, fs_b = fa.findings(wa), fb.findings(wb)
            keys_a = {f.key for f in fs_a}
            keys_b = {f.key for f in fs_b}
            removed = [f for f in fs_a if f.key not in keys_b]
            added = [f for f in fs_b if f.key not in keys_a]
            if removed or added:
                kinds = {"findings"}
        # fate and finished_in
        sa, sb = status_a[ka], status_b[kb]
        if sa != sb or not sa:
            fate_a = STATUSES[sa] if sa else ("lost" if ka in lost_a else "pending")
            fate_b = STATUSES[sb] if sb else ("lost" if kb in lost_b else "pending")
            if fate_a != fate_b:
                kinds = kinds or set()
                kinds.add("fate")
                changes.append(Change("fate", fate_a, fate_b))
        da, db = done_a[ka], done_b[kb]
        fin_a = None if da < 0 else (0 if lo_a <= da < hi_a else off_a(da))
        fin_b = None if db < 0 else (0 if lo_b <= db < hi_b else off_b(db))
        if fin_a != fin_b:
            kinds = kinds or set()
            kinds.add("fate")
            changes.append(Change("finished_in", fin_a, fin_b))
        pa, pb = wa in pend_a, wb in pend_b
        if pa != pb:
            kinds = kinds or set()
            kinds.add("pending")
            changes.append(Change("pending_at_freeze", pa, pb))
        if ka in error_a or kb in error_b:
            ea, eb = error_a.get(ka), error_b.get(kb)
            et_a = None if ea is None else ea[0]
            et_b = None if eb is None else eb[0]
            if et_a != et_b:
                kinds = kinds or set()
                kinds.add("error")
                changes.append(Change("error_type", et_a, et_b))
        # timings: running, creation (work created here), completion (finished in the same one)
        va, vb = run_a.get(wa, 0), run_b.get(wb, 0)
        d = va - vb if va >= vb else vb - va
        if d and d >= min_ns and d > ratio * max(abs(va), abs(vb)):
            kinds = kinds or set()
            kinds.add("timing")
            changes.append(Change("running_ms", va, vb, timing=True))
        if cin_a[ka] == here_a:
            va, vb = created_a[ka] - start_a, created_b[kb] - start_b
            d = va - vb if va >= vb else vb - va
            if d and d >= min_ns and d > ratio * max(abs(va), abs(vb)):
                kinds = kinds or set()
                kinds.add("timing")
                changes.append(Change("created_ms", va, vb, timing=True))
        if fin_a == fin_b and da >= 0 and db >= 0:
            va, vb = da - start_a, db - start_b
            d = va - vb if va >= vb else vb - va
            if d and d >= min_ns and d > ratio * max(abs(va), abs(vb)):
                kinds = kinds or set()
                kinds.add("timing")
                changes.append(Change("done_ms", va, vb, timing=True))
        if how == "same":
            if kinds is None:
                append(lazy(how, (fa, ka, fb, kb), [], removed, added, changes))
                continue
        else:
            kinds = kinds or set()
            kinds.add(how)
            if how == "renamed":
                changes.append(Change("name", ta.name[ka], tb.name[kb]))
            else:
                changes.append(Change("site", ta.site[ka], tb.site[kb]))
        append(
            lazy(how, (fa, ka, fb, kb), [k for k in KINDS if k in kinds], removed, added, changes)
        )
    return out
