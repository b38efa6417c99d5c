"""The emulated clock: trace time in nanoseconds, with frozen time added at each thaw.

`wall`: real monotonic time plus the frozen durations (a 1 s freeze costs no real second).
`virtual`: time moves only when the runtime says so: a fixed tick per step and jumps to the next
timer when the loop is idle, so a run is fast and the same every time.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Literal

from ._accel import fastrec

ClockKind = Literal["wall", "virtual"]

STEP_TICK_NS = 10_000
"""Virtual time one step (task step, callback) takes: small, but keeps steps visible on a timeline."""


if TYPE_CHECKING:
    _ClockBase = object
else:
    # With the accelerator the clock's numbers live in C fields (same names), so the C writer
    # reads the time without calling back into Python.
    _ClockBase = object if fastrec is None else fastrec.ClockBase


class EmulatedClock(_ClockBase):
    """Trace time (ns since trace start) and loop time (seconds) of one environment process."""

    def __init__(
        self,
        kind: ClockKind,
        *,
        start_ns: int = 0,
        origin_monotonic_ns: int | None = None,
        offset_ns: int = 0,
    ) -> None:
        self.kind: ClockKind = kind
        self.virtual = kind == "virtual"
        # Wall: ts = monotonic - origin + frozen offset. The origin is shared with the supervisor
        # (CLOCK_MONOTONIC is system-wide), so the trace's ts stay continuous across processes.
        if origin_monotonic_ns is None:
            origin_monotonic_ns = time.monotonic_ns() - start_ns
        self._origin = origin_monotonic_ns
        self._offset_ns = offset_ns
        self._virtual_ns = start_ns

    def now_ns(self) -> int:
        if self.virtual:
            return self._virtual_ns
        return time.monotonic_ns() - self._origin + self._offset_ns

    def now_s(self) -> float:
        """Loop time in seconds (what `loop.time()` returns)."""
        return self.now_ns() / 1e9

    def advance(self, ns: int) -> None:
        """Move time forward: a freeze (both kinds) or an idle jump / step tick (virtual)."""
        if ns <= 0:
            return
        if self.virtual:
            self._virtual_ns += ns
        else:
            self._offset_ns += ns

    def tick(self) -> None:
        """One step's worth of virtual time (no-op on the wall clock)."""
        if self.virtual:
            self._virtual_ns += STEP_TICK_NS

    @property
    def origin_monotonic_ns(self) -> int:
        return self._origin

    @property
    def offset_ns(self) -> int:
        return self._offset_ns
