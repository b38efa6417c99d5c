"""Replay, pure: what is running, waiting and frozen at event i, and where the freezes are.

`ReplayIndex` is built in one pass over the event columns (in the loader's worker thread). It keeps
the set of works mid-step every `CHECKPOINT` events, so "running at i" replays at most that many
events, whatever the trace length; counts of live works come from sorted creation and end times.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass

from .trace import KIND_CODES, Trace

CHECKPOINT = 1024
"""Events between saved running-sets: bounds the work of `running_at` to 1024 events."""

_BEGIN = KIND_CODES["work.begin"]
_END = KIND_CODES["work.end"]
_DONE = KIND_CODES["work.done"]
_FREEZE = KIND_CODES["env.freeze"]
_THAW = KIND_CODES["env.thaw"]

"""Replay speeds in events per second."""


@dataclass(frozen=True, slots=True)
class Moment:
    """The state of the trace at the playhead (event index `index`)."""

    index: int
    ts: int
    invocation: int | None
    kind: str
    frozen: bool
    running: frozenset[int]
    alive: int
    """Works created and not yet finished (running, waiting or frozen)."""


class ReplayIndex:
    """Checkpoints of running work and the positions of freezes and thaws."""

    def __init__(self, trace: Trace) -> None:
        self.trace = trace
        ev = trace.events
        kinds, works = ev.kind, ev.work
        self.checkpoints: list[frozenset[int]] = []
        self.freeze_thaw: list[int] = []
        running: set[int] = set()
        for i in range(len(ev)):
            if i % CHECKPOINT == 0:
                self.checkpoints.append(frozenset(running))
            k = kinds[i]
            if k == _BEGIN:
                running.add(works[i])
            elif k in (_END, _DONE):
                running.discard(works[i])
            elif k in (_FREEZE, _THAW):
                self.freeze_thaw.append(i)
        all_works = trace.works
        self.created = sorted(w.created_ns for w in all_works)
        self.ended = sorted(w.end_of_life(trace.end_ns) for w in all_works)

    def __len__(self) -> int:
        return len(self.trace.events)

    def running_at(self, i: int) -> frozenset[int]:
        """Works between a `work.begin` and its `work.end` once event i has happened."""
        if i < 0 or not self.checkpoints:
            return frozenset()
        i = min(i, len(self) - 1)
        base = i // CHECKPOINT
        running = set(self.checkpoints[base])
        kinds, works = self.trace.events.kind, self.trace.events.work
        for j in range(base * CHECKPOINT, i + 1):
            k = kinds[j]
            if k == _BEGIN:
                running.add(works[j])
            elif k in (_END, _DONE):
                running.discard(works[j])
        return frozenset(running)

    def moment(self, i: int) -> Moment:
        """Everything the status line says about event i."""
        ev = self.trace.events
        if not len(ev):
            return Moment(-1, 0, None, "", False, frozenset(), 0)
        i = max(0, min(i, len(ev) - 1))
        ts = ev.ts[i]
        inv = ev.inv[i]
        alive = bisect_right(self.created, ts) - bisect_right(self.ended, ts)
        return Moment(
            index=i,
            ts=ts,
            invocation=None if inv < 0 else inv,
            kind=ev.kind_name(i),
            frozen=self.frozen_after(i),
            running=self.running_at(i),
            alive=max(alive, 0),
        )

    def frozen_after(self, i: int) -> bool:
        """True when the last freeze-or-thaw event at or before i is a freeze."""
        k = bisect_right(self.freeze_thaw, i) - 1
        return k >= 0 and self.trace.events.kind[self.freeze_thaw[k]] == _FREEZE

    def next_freeze_or_thaw(self, i: int) -> int | None:
        """Index of the first freeze or thaw after event i."""
        k = bisect_right(self.freeze_thaw, i)
        return self.freeze_thaw[k] if k < len(self.freeze_thaw) else None

    def previous_freeze_or_thaw(self, i: int) -> int | None:
        """Index of the last freeze or thaw before event i."""
        k = bisect_left(self.freeze_thaw, i) - 1
        return self.freeze_thaw[k] if k >= 0 else None
