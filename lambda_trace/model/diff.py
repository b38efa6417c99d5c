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

from .align import Match, Side, align
from .trace import Invocation, Trace
from .works import Work

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


@dataclass(slots=True)
class Row:
    """An aligned pair of work (or one side alone) and how it changed."""

    match: str
    a: WorkFacts | None
    b: WorkFacts | None
    kinds: list[str] = field(default_factory=list)
    findings_removed: list[FindingFact] = field(default_factory=list)
    findings_added: list[FindingFact] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    a_work: Work | None = None
    b_work: Work | None = None

    @property
    def kind(self) -> str:
        """The most important kind of change, or `same`."""
        return self.kinds[0] if self.kinds else "same"

    @property
    def changed(self) -> bool:
        return bool(self.kinds)

    @property
    def either(self) -> WorkFacts:
        facts = self.a if self.a is not None else self.b
        assert facts is not None
        return facts

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "kinds": list(self.kinds),
            "match": self.match,
            "a": None if self.a is None else self.a.to_json(),
            "b": None if self.b is None else self.b.to_json(),
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
    side_a, side_b = Side.of(a, inv_a), Side.of(b, inv_b)
    facts_a, facts_b = _Facts(side_a), _Facts(side_b)
    rows = [_row(m, facts_a, facts_b, threshold) for m in align(side_a, side_b)]
    ia, ib = facts_a.invocation(), facts_b.invocation()
    return PairDiff(a, b, ia, ib, _invocation_changes(ia, ib, threshold), rows)


class _Facts:
    """Facts of one side, with the look-ups they need made once."""

    def __init__(self, side: Side) -> None:
        self.side = side
        self.trace = side.trace
        self.inv = side.inv
        self.starts = [i.start_ns for i in self.trace.invocations]
        self.pending = set(side.inv.pending_at_freeze)

    def _inv_offset(self, ts: int) -> int | None:
        k = bisect.bisect_right(self.starts, ts)
        if not k:
            return None
        return self.trace.invocations[k - 1].index - self.inv.index

    def work(self, w: Work) -> WorkFacts:
        t, k, rel = w._t, w.row, self.side.rel
        spans = t.spans
        running = 0
        for i in spans.of_work(w.id):
            running += spans.end_ns(i) - spans.begin_ns(i)
        done = w.done_ns
        status = w.status
        if status is not None:
            fate = status
        elif w.lost_ns is not None:
            fate = "lost"
        else:
            fate = "pending"
        findings = [
            FindingFact(
                f.category,
                None if f.invocation is None else f.invocation - self.inv.index,
                f.message,
            )
            for f in self.trace.findings_for_work(w.id)
        ]
        findings.sort(key=lambda f: (f.category, -(10**9) if f.at is None else f.at))
        return WorkFacts(
            work=w.id,
            type=w.type,
            name=t.name[k],
            site=t.site[k],
            role=w.role,
            origin=self.side.origin(w),
            created_in=w.created_in,
            created_ns=rel(w.created_ns),
            done_ns=None if done is None else rel(done),
            running_ns=running,
            fate=fate,
            finished_in=None if done is None else self._inv_offset(done),
            status=status,
            error_type=w.error_type,
            pending_at_freeze=w.id in self.pending,
            findings=findings,
        )

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


def _row(m: Match, fa: _Facts, fb: _Facts, th: Threshold) -> Row:
    a = None if m.a is None else fa.work(m.a)
    b = None if m.b is None else fb.work(m.b)
    row = Row(m.how, a, b, a_work=m.a, b_work=m.b)
    if a is None or b is None:
        row.kinds.append("removed" if b is None else "added")
        return row
    kinds: set[str] = set()
    keys_a = {f.key for f in a.findings}
    keys_b = {f.key for f in b.findings}
    row.findings_removed = [f for f in a.findings if f.key not in keys_b]
    row.findings_added = [f for f in b.findings if f.key not in keys_a]
    if row.findings_removed or row.findings_added:
        kinds.add("findings")
    for name in ("fate", "finished_in"):
        if getattr(a, name) != getattr(b, name):
            kinds.add("fate")
            row.changes.append(Change(name, getattr(a, name), getattr(b, name)))
    if a.pending_at_freeze != b.pending_at_freeze:
        kinds.add("pending")
        row.changes.append(Change("pending_at_freeze", a.pending_at_freeze, b.pending_at_freeze))
    if a.error_type != b.error_type:
        kinds.add("error")
        row.changes.append(Change("error_type", a.error_type, b.error_type))
    timings = [("running_ns", "running_ms")]
    if a.origin == "here":
        timings.append(("created_ns", "created_ms"))
    if a.finished_in == b.finished_in:
        timings.append(("done_ns", "done_ms"))
    for attr, name in timings:
        va, vb = getattr(a, attr), getattr(b, attr)
        if va is not None and vb is not None and th.exceeded(va, vb):
            kinds.add("timing")
            row.changes.append(Change(name, va, vb, timing=True))
    if m.how in ("renamed", "moved"):
        kinds.add(m.how)
        field_name = "name" if m.how == "renamed" else "site"
        row.changes.append(Change(field_name, getattr(a, field_name), getattr(b, field_name)))
    row.kinds = [k for k in KINDS if k in kinds]
    return row
