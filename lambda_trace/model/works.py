"""Units of work held in columns (`WorkTable`), running spans (`SpanStore`), and the `Work` view.

A trace has about one unit of work per six events; a slotted object per work with its int fields
costs ~550 bytes, these columns ~250 (tests/benchmarks/bench_load.py). `Work` is a two-slot view
made on demand, so the viewer and the analysis read the same columns.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from itertools import compress
from typing import Literal

WORK_TYPES: tuple[str, ...] = ("task", "timer", "callback", "thread", "executor", "io", "?")
"""Type code -> type name; "?" for work whose `work.create` is missing."""
TYPE_CODES: dict[str, int] = {t: i for i, t in enumerate(WORK_TYPES)}
STATUSES: tuple[str | None, ...] = (None, "ok", "error", "cancelled")
STATUS_CODES: dict[str, int] = {"ok": 1, "error": 2, "cancelled": 3}
IO = TYPE_CODES["io"]

SegmentState = Literal["running", "waiting", "frozen"]
Freeze = tuple[int, int | None, int]
"""(freeze_ns, thaw_ns or None when it never thawed, invocation index it followed)."""


def _q() -> array[int]:
    return array("q")


class SpanStore:
    """Every running span (one `work.begin`..`work.end`) as a pair of event indexes.

    Times, invocation and work come from the event columns it shares with `EventColumns`:
    16 bytes a span instead of 32. Pairs are stored in the order the spans ended.
    """

    def __init__(self, ts: array[int], inv: array[int], work: array[int]) -> None:
        self.first = _q()
        """Index of the `work.begin` event."""
        self.last = _q()
        """Index of the event that ended it (`work.end`, `work.done`, a shutdown, the last)."""
        self._ts, self._inv, self._work = ts, inv, work
        self._by_work: dict[int, list[int]] | None = None

    def __len__(self) -> int:
        return len(self.first)

    def add(self, first: int, last: int) -> None:
        self.first.append(first)
        self.last.append(last)
        self._by_work = None

    def begin_ns(self, i: int) -> int:
        return self._ts[self.first[i]]

    def end_ns(self, i: int) -> int:
        return self._ts[self.last[i]]

    def inv(self, i: int) -> int:
        """Invocation its `work.begin` ran in (-1: none)."""
        return self._inv[self.first[i]]

    def work_id(self, i: int) -> int:
        return self._work[self.first[i]]

    def of_work(self, work_id: int) -> list[int]:
        """Span indexes of one work, in time order (groups every span on first use)."""
        if self._by_work is None:
            groups: dict[int, list[int]] = {}
            work, first = self._work, self.first
            for i in range(len(first)):
                groups.setdefault(work[first[i]], []).append(i)
            self._by_work = groups
        return self._by_work.get(work_id, [])

    def group(self, work_ids: set[int]) -> dict[int, list[int]]:
        """Span indexes of just these works (cheaper than `of_work` when they are few)."""
        out: dict[int, list[int]] = {}
        if work_ids:
            work, first = self._work, self.first
            # The scan over every span runs in C; only the matching spans reach Python.
            hits = compress(
                range(len(first)), map(work_ids.__contains__, map(work.__getitem__, first))
            )
            for i in hits:
                out.setdefault(work[first[i]], []).append(i)
        return out

    def nbytes(self) -> int:
        return sum(c.buffer_info()[1] * c.itemsize for c in (self.first, self.last))


_BLOCK = 4096
ROLE = 8
"""Bit of `WorkTable.flags`: the handler task."""
REF = 16
"""Bit of `WorkTable.flags`: keeps the event loop alive."""


class WorkTable:
    """One row per unit of work, in creation order; -1 stands for None in the int columns.

    Columns set at creation are appended; columns that start as -1 are grown in blocks (one
    append per field per work was a third of the load time); rare facts live in dicts by row.
    """

    def __init__(self, spans: SpanStore) -> None:
        self.spans = spans
        self.row: dict[int, int] = {}
        """work id -> row."""
        self.id = _q()
        self.flags = array("b")
        """Type code in bits 0-2, handler role bit 3, ref'd bit 4."""
        self.name: list[str] = []
        self.site: list[str] = []
        self.stack: list[tuple[str, ...]] = []
        self.parent = _q()
        self.created_in = _q()
        self.created_ns = _q()
        self.env = _q()
        # Grown in blocks, -1 (or 0 for status) until set; trimmed by `trim()`.
        self.done_ns = _q()
        self.status = array("b")
        self.open_ev: list[int] = []
        """Event index of the `work.begin` of the step running now (-1: none); loading only.
        A list: the loader sets it twice a step, and an array item assignment costs 4x."""
        self.ran_first = _q()
        self.ran_last = _q()
        self.capacity = 0
        # Rare facts, by row.
        self.ran_more: dict[int, list[int]] = {}
        """row -> sorted invocations, only for work that ran in more than one."""
        self.delay_ns: dict[int, int] = {}
        self.cancel: dict[int, tuple[int, int]] = {}
        """row -> (ts, invocation or -1) of its first `work.cancel`."""
        self.cancel_reason: dict[int, str] = {}
        self.lost_ns: dict[int, int] = {}
        self.cross: dict[int, tuple[int, int]] = {}
        """row -> (ts, invocation) of its first step in another invocation after a freeze."""
        self.error: dict[int, tuple[str | None, str | None]] = {}
        """row -> (error_type, error_message) from `work.done`."""

    def __len__(self) -> int:
        return len(self.id)

    def grow(self) -> None:
        """Make room for `_BLOCK` more rows in the block-grown columns."""
        minus = array("q", [-1]) * _BLOCK
        for col in (self.done_ns, self.ran_first, self.ran_last):
            col.extend(minus)
        self.open_ev.extend([-1] * _BLOCK)
        self.status.extend(array("b", [0]) * _BLOCK)
        self.capacity += _BLOCK

    def repair(self) -> None:
        """Drop a row half-added when an OverflowError interrupted it (columns stay aligned)."""
        cols = (self.id, self.parent, self.created_in, self.created_ns, self.env, self.flags)
        lists = (self.name, self.site, self.stack)
        n = min(len(c) for c in (*cols, *lists))
        for c in cols:
            del c[n:]
        for lst in lists:
            del lst[n:]

    def trim(self) -> None:
        """Drop the unused tail of the block-grown columns (after loading)."""
        n = len(self.id)
        for col in (self.done_ns, self.ran_first, self.ran_last):
            del col[n:]
        del self.open_ev[n:]
        del self.status[n:]
        self.capacity = n

    def add(
        self,
        wid: int,
        type_code: int,
        name: str,
        site: str,
        stack: tuple[str, ...],
        parent: int | None,
        created_in: int | None,
        created_ns: int,
        env: int | None,
        role: bool = False,
        ref: bool = True,
    ) -> int:
        """Append a row; returns it. OverflowError leaves a prefix `repair()` removes."""
        k = len(self.id)
        if k >= self.capacity:
            self.grow()
        self.id.append(wid)
        self.parent.append(-1 if parent is None else parent)
        self.created_in.append(-1 if created_in is None else created_in)
        self.created_ns.append(created_ns)
        self.env.append(-1 if env is None else env)
        self.flags.append(type_code | (ROLE if role else 0) | (REF if ref else 0))
        self.name.append(name)
        self.site.append(site)
        self.stack.append(stack)
        self.row[wid] = k
        return k

    def type_code(self, k: int) -> int:
        return self.flags[k] & 7

    def is_handler(self, k: int) -> bool:
        return bool(self.flags[k] & ROLE)

    def is_ref(self, k: int) -> bool:
        return bool(self.flags[k] & REF)

    def set_ref(self, k: int, ref: bool) -> None:
        self.flags[k] = (self.flags[k] & ~REF) | (REF if ref else 0)

    def ran_in(self, k: int) -> list[int]:
        more = self.ran_more.get(k)
        if more is not None:
            return list(more)
        first = self.ran_first[k]
        return [first] if first >= 0 else []

    def still_pending(self, k: int, at: int) -> bool:
        """Unfinished at `at`: not done by then, and not a timer/callback cancelled by then."""
        done = self.done_ns[k]
        if 0 <= done <= at:
            return False
        cancel = self.cancel.get(k)
        return not (cancel is not None and cancel[0] <= at and self.flags[k] & 7 in _CANCEL_ENDS)

    def nbytes(self) -> int:
        """Bytes held by the array columns (lists and dicts not included)."""
        total = 0
        for value in vars(self).values():
            if isinstance(value, array):
                total += value.buffer_info()[1] * value.itemsize
        return total


_CANCEL_ENDS = frozenset({TYPE_CODES["timer"], TYPE_CODES["callback"]})
"""Types for which a cancel request ends them (a cancelled task may still run its handlers)."""


def _opt(v: int) -> int | None:
    return None if v < 0 else v


class Work:
    """A view of one row of a `WorkTable`: a task, timer, callback, thread, executor job or io."""

    __slots__ = ("_k", "_t")

    def __init__(self, table: WorkTable, row: int) -> None:
        self._t = table
        self._k = row

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Work) and other._t is self._t and other._k == self._k

    def __hash__(self) -> int:
        return hash((id(self._t), self._k))

    def __repr__(self) -> str:
        return f"Work({self.id}, {self.type} {self.name!r} at {self.site})"

    @property
    def row(self) -> int:
        return self._k

    @property
    def id(self) -> int:
        return self._t.id[self._k]

    @property
    def type(self) -> str:
        return WORK_TYPES[self._t.flags[self._k] & 7]

    @property
    def name(self) -> str:
        return self._t.name[self._k]

    @property
    def site(self) -> str:
        """`file:line` where the handler's code created it."""
        return self._t.site[self._k]

    @property
    def stack(self) -> tuple[str, ...]:
        return self._t.stack[self._k]

    @property
    def parent(self) -> int | None:
        return _opt(self._t.parent[self._k])

    @property
    def created_in(self) -> int | None:
        """Invocation it was created in (0 = INIT); None when created between environments."""
        return _opt(self._t.created_in[self._k])

    @property
    def created_ns(self) -> int:
        return self._t.created_ns[self._k]

    @property
    def env(self) -> int | None:
        return _opt(self._t.env[self._k])

    @property
    def role(self) -> str | None:
        return "handler" if self._t.is_handler(self._k) else None

    @property
    def ref(self) -> bool:
        """False when unref'd: it does not keep the event loop alive."""
        return self._t.is_ref(self._k)

    @property
    def delay_ns(self) -> int | None:
        return self._t.delay_ns.get(self._k)

    @property
    def status(self) -> str | None:
        """ok | error | cancelled, or None while unfinished."""
        return STATUSES[self._t.status[self._k]]

    @property
    def done_ns(self) -> int | None:
        return _opt(self._t.done_ns[self._k])

    @property
    def cancel_ns(self) -> int | None:
        cancel = self._t.cancel.get(self._k)
        return None if cancel is None else cancel[0]

    @property
    def cancel_inv(self) -> int | None:
        cancel = self._t.cancel.get(self._k)
        return None if cancel is None else _opt(cancel[1])

    @property
    def cancel_reason(self) -> str | None:
        return self._t.cancel_reason.get(self._k)

    @property
    def error_type(self) -> str | None:
        return self._t.error.get(self._k, (None, None))[0]

    @property
    def error_message(self) -> str | None:
        return self._t.error.get(self._k, (None, None))[1]

    @property
    def lost_ns(self) -> int | None:
        """When its environment ended with it pending (it never ran again)."""
        return self._t.lost_ns.get(self._k)

    @property
    def ran_in(self) -> list[int]:
        """Sorted, distinct invocations in which it ran a step."""
        return self._t.ran_in(self._k)

    @property
    def spans(self) -> list[tuple[int, int, int]]:
        """Running spans as (begin_ns, end_ns, invocation), in time order."""
        s = self._t.spans
        return [(s.begin_ns(i), s.end_ns(i), s.inv(i)) for i in s.of_work(self.id)]

    def label(self) -> str:
        """`timer `name` (site)`, as the messages write it."""
        kind = "handler" if self._t.is_handler(self._k) else self.type
        return f"{kind} `{self.name}` ({self.site})"

    def end_of_life(self, trace_end_ns: int) -> int:
        """When it stopped existing: done, lost with its environment, or the end of the trace."""
        done = self._t.done_ns[self._k]
        if done >= 0:
            return done
        return self._t.lost_ns.get(self._k, trace_end_ns)

    def segments(
        self, freezes: list[Freeze], trace_end_ns: int
    ) -> list[tuple[int, int, SegmentState]]:
        """Its life from creation cut into (start, end, running|waiting|frozen) pieces."""
        start, stop = self.created_ns, self.end_of_life(trace_end_ns)
        cuts: list[tuple[int, int, SegmentState]] = []
        for b, e, _inv in self.spans:
            cuts.append((b, e, "running"))
        # Freezes are in time order: start at the first that could overlap.
        ends = [f for f, _t, _i in freezes]
        for f, t, _inv in freezes[max(0, bisect_right(ends, start) - 1) :]:
            if f >= stop:
                break
            end = t if t is not None else trace_end_ns
            if end > start:
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
