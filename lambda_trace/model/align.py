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

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from itertools import compress
from typing import Literal

from .trace import Invocation, Trace
from .works import ROLE, Work

Origin = Literal["here", "init", "earlier"]
How = Literal["same", "renamed", "moved", "added", "removed"]

ORIGINS: tuple[Origin, ...] = ("here", "init", "earlier")
"""Origin code -> origin (codes as `Side.origin_code` gives them)."""


@dataclass(slots=True)
class Side:
    """One invocation of one trace and the work taking part in it, in creation order.

    `rows` are rows of the trace's `WorkTable` (creation order); `works` makes views of them.
    """

    trace: Trace
    inv: Invocation
    rows: list[int]

    @classmethod
    def of(cls, trace: Trace, inv: Invocation) -> Side:
        return cls(trace, inv, participant_rows(trace, inv))

    @property
    def works(self) -> list[Work]:
        t = self.trace.table
        return [Work(t, k) for k in self.rows]

    def origin(self, w: Work) -> Origin:
        return origin(w, self.inv)

    def origin_code(self, k: int) -> int:
        """0 here, 1 init, 2 earlier (`ORIGINS`) for row `k` of the table."""
        created = self.trace.table.created_in[k]
        if created == self.inv.index:
            return 0
        return 1 if created == 0 else 2

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


def participant_rows(trace: Trace, inv: Invocation) -> list[int]:
    """Table rows of the work created in `inv`, run in it, or pending at its freeze; sorted.

    Uses the trace's index by invocation when it has one; otherwise scans the columns (cheaper
    for one pair; `diff_traces` builds the index before comparing many).
    """
    t = trace.table
    index = inv.index
    if trace._created_in is not None and trace._ran_in is not None:
        rows = set(trace._created_in.get(index, ()))
        rows.update(trace._ran_in.get(index, ()))
    else:
        every = range(len(t))
        rows = set(compress(every, map(index.__eq__, t.created_in)))
        ran = set(compress(every, map(index.__eq__, t.ran_first)))
        for k, more in t.ran_more.items():
            if index in more:
                ran.add(k)
            else:
                ran.discard(k)
        rows |= ran
    by_id = t.row
    rows.update(by_id[wid] for wid in inv.pending_at_freeze if wid in by_id)
    # Rows are appended in creation order, so row order is (created ts, seq) order.
    return sorted(rows)


def participants(trace: Trace, inv: Invocation) -> list[Work]:
    """Work created in `inv`, run in it, or pending at its freeze; in creation order."""
    t = trace.table
    return [Work(t, k) for k in participant_rows(trace, inv)]


def align_rows(a: Side, b: Side) -> list[tuple[int, int, How]]:
    """Pair the participants of two invocations as (row in A, row in B, how), -1 for no work;
    in order of (relative) creation. What `align` does, on table rows."""
    pending: list[list[int]] = []
    keys: list[tuple[dict[int, tuple[int, int, str, str]], list[int]]] = []
    handlers: list[list[int]] = []
    for side in (a, b):
        t, index = side.trace.table, side.inv.index
        created_in, flags, name, site = t.created_in, t.flags, t.name, t.site
        into: list[int] = []
        hs: list[int] = []
        key: dict[int, tuple[int, int, str, str]] = {}
        for k in side.rows:
            c = created_in[k]
            o = 0 if c == index else (1 if c == 0 else 2)
            f = flags[k]
            key[k] = (o, f & 7, name[k], site[k])
            if o == 0 and f & ROLE:
                hs.append(k)
            else:
                into.append(k)
        pending.append(into)
        handlers.append(hs)
        keys.append((key, []))
    key_a, key_b = keys[0][0], keys[1][0]
    pending_a, pending_b = pending
    handlers_a, handlers_b = handlers
    start_a, start_b = a.inv.start_ns, b.inv.start_ns
    created_a, created_b = a.trace.table.created_ns, b.trace.table.created_ns
    placed: list[tuple[int, int, int, int, int, How]] = []
    add = placed.append

    for ka, kb in zip(handlers_a, handlers_b, strict=False):
        _o, _t, name_a, site_a = key_a[ka]
        _o, _t, name_b, site_b = key_b[kb]
        matched: How = "same"
        if site_a != site_b:
            matched = "moved"
        if name_a != name_b:
            matched = "renamed"
        add((created_a[ka] - start_a, 0, ka, ka, kb, matched))
    n = min(len(handlers_a), len(handlers_b))
    if n < len(handlers_a):
        pending_a = sorted(pending_a + handlers_a[n:])
    if n < len(handlers_b):
        pending_b = sorted(pending_b + handlers_b[n:])

    level_keys: tuple[tuple[int, How], ...] = ((0, "same"), (1, "renamed"), (2, "moved"))
    for level, how in level_keys:
        if not pending_a or not pending_b:
            break
        ka_of: Callable[[int], Hashable]
        kb_of: Callable[[int], Hashable]
        if level == 0:
            ka_of, kb_of = key_a.__getitem__, key_b.__getitem__
        elif level == 1:
            ka_of = lambda k: _site_key(key_a[k])  # noqa: E731
            kb_of = lambda k: _site_key(key_b[k])  # noqa: E731
        else:
            ka_of = lambda k: _name_key(key_a[k])  # noqa: E731
            kb_of = lambda k: _name_key(key_b[k])  # noqa: E731
        groups_b: dict[Hashable, list[int]] = {}
        for kb in pending_b:
            g = kb_of(kb)
            lst = groups_b.get(g)
            if lst is None:
                groups_b[g] = [kb]
            else:
                lst.append(kb)
        left_a: list[int] = []
        used_b: set[int] = set()
        taken: dict[Hashable, int] = {}
        for ka in pending_a:
            g = ka_of(ka)
            candidates = groups_b.get(g)
            if candidates is not None:
                i = taken.get(g, 0)
                if i < len(candidates):
                    taken[g] = i + 1
                    kb = candidates[i]
                    used_b.add(kb)
                    add((created_a[ka] - start_a, 0, ka, ka, kb, how))
                    continue
            left_a.append(ka)
        pending_a = left_a
        if used_b:
            pending_b = [k for k in pending_b if k not in used_b]

    for ka in pending_a:
        add((created_a[ka] - start_a, 0, ka, ka, -1, "removed"))
    for kb in pending_b:
        add((created_b[kb] - start_b, 1, kb, -1, kb, "added"))
    placed.sort()
    return [(ka, kb, how) for _rel, _side, _k, ka, kb, how in placed]


def _site_key(key: tuple[int, int, str, str]) -> tuple[int, int, str]:
    return (key[0], key[1], key[3])


def _name_key(key: tuple[int, int, str, str]) -> tuple[int, int, str]:
    return (key[0], key[1], key[2])


def align(a: Side, b: Side) -> list[Match]:
    """Pair the participants of two invocations; rows in order of (relative) creation."""
    ta, tb = a.trace.table, b.trace.table
    return [
        Match(None if ka < 0 else Work(ta, ka), None if kb < 0 else Work(tb, kb), how)
        for ka, kb, how in align_rows(a, b)
    ]
