"""Threads started by handler code: traced, attributed to their invocation, and held during freezes.

Lambda's freeze stops every thread. Here a traced thread is held at its next Python-level call
while the environment is frozen (a trace hook checks a flag), so its work lands in the next
invocation as on Lambda. Limit: a thread inside a blocking C call (a sleep, a socket read) finishes
that call first and is held when it next calls Python code.
"""

from __future__ import annotations

import contextvars
import io
import sys
import threading
import traceback
from collections.abc import Callable
from types import FrameType
from typing import IO, Any

from .clock import EmulatedClock
from .tracer import Tracer

THAW_SETTLE_S = 2.0
"""Virtual clock: real seconds the runtime lets due thread timers run after a thaw before the
handler starts, so timer callbacks land in a reproducible place in the trace (a bound, not a
delay: the join returns as soon as the timer has run)."""

_VIRTUAL_WAIT_SLICE_S = 0.001


class ThreadTracer:
    """Patches `threading.Thread.start` (and `threading.Timer` on the virtual clock) while active."""

    def __init__(self, tracer: Tracer, clock: EmulatedClock) -> None:
        self.tracer = tracer
        self.clock = clock
        self.frozen = False
        self._cond = threading.Condition()
        self._threads: dict[int, threading.Thread] = {}
        self._running: set[int] = set()
        """Thread work between its begin and end (what a freeze suspends)."""
        self._suspended: list[int] = []
        self._original_start: Callable[[threading.Thread], None] | None = None
        self._original_timer_run: Callable[[threading.Timer], None] | None = None
        self.stderr: IO[str] | io.TextIOBase = sys.stderr
        """Where a thread's uncaught exception is printed (the environment's captured stderr)."""

    # -- install ------------------------------------------------------------------------------

    def install(self) -> None:
        if self._original_start is not None:
            return
        original = threading.Thread.start
        self._original_start = original
        tracer_self = self

        def start(thread: threading.Thread) -> None:
            caller = sys._getframe(1)
            if not tracer_self.tracer._is_internal(caller.f_code):
                tracer_self._adopt(thread, caller)
            original(thread)

        threading.Thread.start = start  # type: ignore[method-assign,assignment]
        if self.clock.virtual:
            self._original_timer_run = threading.Timer.run
            threading.Timer.run = _virtual_timer_run(self)  # type: ignore[method-assign,assignment]

    def uninstall(self) -> None:
        if self._original_start is not None:
            threading.Thread.start = self._original_start  # type: ignore[method-assign,assignment]
            self._original_start = None
        if self._original_timer_run is not None:
            threading.Timer.run = self._original_timer_run  # type: ignore[method-assign,assignment]
            self._original_timer_run = None
        # The environment is gone: its timers never fire (and must not keep this process alive).
        for thread in list(self._threads.values()):
            if isinstance(thread, threading.Timer):
                thread.cancel()
        self.thaw()

    def _adopt(self, thread: threading.Thread, caller: FrameType) -> None:
        target = getattr(thread, "_target", None) or getattr(thread, "function", None)
        label = getattr(target, "__qualname__", None) or thread.name
        kind = "Timer" if isinstance(thread, threading.Timer) else "Thread"
        delay = getattr(thread, "interval", None)
        work = self.tracer.create(
            "thread",
            f"{kind} {label}",
            parent=self.tracer.current(),
            frame=caller,
            delay_ns=round(delay * 1e9) if isinstance(delay, int | float) else None,
        )
        context = contextvars.copy_context()
        run = thread.run

        def traced_run() -> None:
            context.run(self._run, work, run)

        thread.run = traced_run  # type: ignore[method-assign]
        self._threads[work] = thread
        if isinstance(delay, int | float):
            thread._lt_due_ns = self.clock.now_ns() + round(delay * 1e9)  # type: ignore[attr-defined]
        # The run begins now, from the starting thread, so the trace does not depend on how
        # soon the OS schedules the new thread.
        with self._cond:
            self.tracer.begin(work)
            self._running.add(work)

    def _run(self, work: int, run: Callable[[], None]) -> None:
        tracer = self.tracer
        tracer.set_thread_work(work)
        sys.settrace(self._hook)
        self.hold_if_frozen()
        try:
            run()
        except BaseException as exc:
            self._finish(work, "error", exc)
            # Printed as threading's excepthook would, into the environment's log (the
            # invocation does not fail).
            text = "".join(traceback.format_exception(exc))
            print(
                f"Exception in thread {threading.current_thread().name}:\n{text}",
                end="",
                file=self.stderr,
            )
            return
        self._finish(work, "ok", None)

    def _finish(self, work: int, status: str, exc: BaseException | None) -> None:
        sys.settrace(None)
        self.hold_if_frozen()
        with self._cond:
            self._running.discard(work)
            self.tracer.end(work)
        self.tracer.done(work, status, exc)
        self._threads.pop(work, None)

    # -- freeze and thaw ----------------------------------------------------------------------

    def _hook(self, frame: FrameType, event: str, arg: Any) -> None:
        if self.frozen:
            self._hold()

    def _hold(self) -> None:
        with self._cond:
            while self.frozen:
                self._cond.wait()

    def hold_if_frozen(self) -> None:
        if self.frozen:
            self._hold()

    def freeze(self) -> None:
        """Suspend every running thread: its run ends here in the trace, whatever it is doing
        (threads notice the flag at their next Python call and wait for the thaw)."""
        with self._cond:
            self.frozen = True
            self._suspended = sorted(self._running)
            for work in self._suspended:
                self.tracer.end(work)

    def thaw(self) -> None:
        with self._cond:
            self.frozen = False
            for work in self._suspended:
                if work in self._running:
                    self.tracer.begin(work)
            self._suspended = []
            self._cond.notify_all()

    def settle_after_thaw(self) -> None:
        """Virtual clock: let thread timers that fell due during the freeze run first."""
        due = [t for t in self._threads.values() if isinstance(t, threading.Timer)]
        for thread in due:
            deadline = getattr(thread, "_lt_due_ns", None)
            if deadline is not None and deadline <= self.clock.now_ns():
                thread.join(THAW_SETTLE_S)

    def alive(self) -> list[int]:
        return [w for w, t in self._threads.items() if t.is_alive()]


def _virtual_timer_run(threads: ThreadTracer) -> Callable[[threading.Timer], None]:
    """threading.Timer.run measured on the emulated clock: the delay passes in emulated time."""

    def run(timer: threading.Timer) -> None:
        due = getattr(timer, "_lt_due_ns", threads.clock.now_ns() + round(timer.interval * 1e9))
        while threads.clock.now_ns() < due:
            if timer.finished.wait(_VIRTUAL_WAIT_SLICE_S):
                return
        if not timer.finished.is_set():
            timer.function(*timer.args, **timer.kwargs)
        timer.finished.set()

    return run
