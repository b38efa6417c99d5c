"""Alignment of two invocations' units of work: matched by what they are, never by id or time.

A unit of work takes part in an invocation when it was created there, ran a step there, or was
pending at its freeze (so work leaked in from an earlier invocation counts too). Its *origin*
says which: `here`, `init` (module-level work) or `earlier` (another invocation).

Matching, in passes over what is still unmatched, each keeping creation order among equals:

1. the handler with the handler (role `handler`, whatever its name);
2. same origin, type, name and site: the i-th of those on one side with the i-th on the other;
3. same origin, type and site, another name: `renamed`;
4. same origin, type and name, another site: `moved` (the code shifted between the recordings);
5. the rest is `removed` (only in A) or `added` (only in B).

Each pass is one dict grouping over the work: O(n), plus one sort of the result, O(n log n).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import Literal

from .trace import Invocation, Trace
from .works import WORK_TYPES, Work

Origin = Literal["here", "init", "earlier"]
How = Literal["same", "renamed", "moved", "added", "removed"]


@dataclass(slots=True)
class Side:
    """One invocation of one trace and the work taking part in it, in creation order."""

    trace: Trace
    inv: Invocation
    works: list[Work]

    @classmethod
    def of(cls, trace: Trace, inv: Invocation) -> Side:
        return cls(trace, inv, participants(trace, inv))

    def origin(self, w: Work) -> Origin:
        return origin(w, self.inv)

    def rel(self, ts: int) -> int:
        """A time relative to this invocation's `invoke.start`."""
        return ts - self.inv.start_ns


@dataclass(slots=True)
class Match:
    """One aligned row: a work on each side, or on one side only."""

    a: Work | None
    b: Work | None
    how: How


def origin(w: Work, inv: Invocation) -> Origin:
    """Where a participant of `inv` comes from."""
    created = w.created_in
    if created == inv.index:
        return "here"
    return "init" if created == 0 else "earlier"


def participants(trace: Trace, inv: Invocation) -> list[Work]:
    """Work created in `inv`, run in it, or pending at its freeze; in creation order."""
    t = trace.table
    rows = {w.row for w in trace.works_created_in(inv.index)}
    rows.update(w.row for w in trace.works_ran_in(inv.index))
    rows.update(t.row[wid] for wid in inv.pending_at_freeze if wid in t.row)
    # Rows are appended in creation order, so row order is (created ts, seq) order.
    return [Work(t, k) for k in sorted(rows)]


def _group(
    works: Iterable[tuple[int, Work]], side: Side, level: int
) -> dict[Hashable, list[tuple[int, Work]]]:
    out: dict[Hashable, list[tuple[int, Work]]] = {}
    for pos, w in works:
        out.setdefault(_key(w, side, level), []).append((pos, w))
    return out


def _key(w: Work, side: Side, level: int) -> Hashable:
    t, k = w._t, w.row
    o = side.origin(w)
    kind = WORK_TYPES[t.flags[k] & 7]
    if level == 0:
        return (o, kind, t.name[k], t.site[k])
    if level == 1:
        return (o, kind, t.site[k])
    return (o, kind, t.name[k])


def align(a: Side, b: Side) -> list[Match]:
    """Pair the participants of two invocations; rows in order of (relative) creation."""
    pending_a: list[tuple[int, Work]] = []
    pending_b: list[tuple[int, Work]] = []
    handlers_a: list[tuple[int, Work]] = []
    handlers_b: list[tuple[int, Work]] = []
    for side, into, handlers in ((a, pending_a, handlers_a), (b, pending_b, handlers_b)):
        for pos, w in enumerate(side.works):
            if w._t.is_handler(w.row) and side.origin(w) == "here":
                handlers.append((pos, w))
            else:
                into.append((pos, w))
    placed: list[tuple[tuple[int, int, int], Match]] = []

    def place(wa: tuple[int, Work] | None, wb: tuple[int, Work] | None, how: How) -> None:
        if wa is not None:
            sort = (a.rel(wa[1].created_ns), 0, wa[0])
        else:
            assert wb is not None
            sort = (b.rel(wb[1].created_ns), 1, wb[0])
        placed.append((sort, Match(wa[1] if wa else None, wb[1] if wb else None, how)))

    for (pa, wa), (pb, wb) in zip(handlers_a, handlers_b, strict=False):
        matched: How = "same"
        if wa.site != wb.site:
            matched = "moved"
        if wa.name != wb.name:
            matched = "renamed"
        place((pa, wa), (pb, wb), matched)
    n = min(len(handlers_a), len(handlers_b))
    pending_a = sorted(pending_a + handlers_a[n:], key=lambda p: p[0])
    pending_b = sorted(pending_b + handlers_b[n:], key=lambda p: p[0])

    passes: tuple[tuple[int, How], ...] = ((0, "same"), (1, "renamed"), (2, "moved"))
    for level, how in passes:
        groups_b = _group(pending_b, b, level)
        left_a: list[tuple[int, Work]] = []
        used_b: set[int] = set()
        taken: dict[Hashable, int] = {}
        for pa, wa in pending_a:
            key = _key(wa, a, level)
            candidates = groups_b.get(key)
            i = taken.get(key, 0)
            if candidates is not None and i < len(candidates):
                taken[key] = i + 1
                pb, wb = candidates[i]
                used_b.add(pb)
                place((pa, wa), (pb, wb), how)
            else:
                left_a.append((pa, wa))
        pending_a = left_a
        pending_b = [p for p in pending_b if p[0] not in used_b]

    for pa, wa in pending_a:
        place((pa, wa), None, "removed")
    for pb, wb in pending_b:
        place(None, (pb, wb), "added")
    placed.sort(key=lambda item: item[0])
    return [m for _sort, m in placed]
