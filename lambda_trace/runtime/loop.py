"""The instrumented asyncio event loop: every task step, timer, callback, socket and executor job
becomes traced work, and the runtime can ask whether the loop is "empty" the way Node's
`beforeExit` means it (nothing ref'd left).

Hooks sit on the loop's scheduling methods, not on the C Task: task steps and wakeups reach the loop
through `call_soon` with the task as `__self__`, so the fast C implementation stays in use.
"""

# This module works with asyncio's private scheduling internals (CPython 3.11-3.13) on purpose;
# typeshed does not describe them.
# mypy: disable-error-code="attr-defined,override,misc"

from __future__ import annotations

import asyncio
import heapq
import inspect
import socket
import sys
import threading
import traceback
from asyncio import events
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import Context
from types import MethodType
from typing import Any, TypeVar

from ._accel import fastrec
from .clock import EmulatedClock
from .tracer import BEGIN, END, STACK_DEPTH, Tracer, WorkInfo, created_in_var

T = TypeVar("T")

REAL_IO_WAIT_S = 0.05
"""Virtual clock: real seconds to wait for sockets or threads before jumping to the next timer."""


def callable_name(fn: Any) -> str:
    """A short, stable name for a callback (no addresses: traces must be deterministic)."""
    inner = getattr(fn, "func", None)  # functools.partial
    if inner is not None:
        return callable_name(inner)
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None)
    return str(name) if name else type(fn).__name__


def _is_internal_callback(fn: Any) -> bool:
    module = getattr(fn, "__module__", None) or ""
    return module.startswith(_INTERNAL_MODULES)


_INTERNAL_MODULES = ("asyncio.", "_asyncio", "concurrent.futures", "lambda_trace.runtime.")


TEARDOWN = "asyncio.run teardown"
"""work.cancel reason: asyncio.run() cancelled the task at its end."""
DROPPED = "loop closed"
"""work.cancel reason: the loop was closed with this timer or callback still scheduled."""


class TracedTask(asyncio.Task):  # type: ignore[type-arg]
    """A C Task that knows its work id; cancel and rename are reported to the tracer."""

    # Slots, not the instance dict: no dict per task on the hottest path of a recording.
    __slots__ = ("_lt_listened", "_lt_work")

    _lt_listened: bool
    """Set (True) once something was scheduled to hear about this task finishing (an awaiter,
    gather); unset until then."""

    _lt_work: int
    """The task's work id, set right after creation (before its first step runs)."""

    def cancel(self, msg: Any = None) -> bool:
        if not self.done():
            # asyncio.run() cancels what is left at its end: that work is dropped, not cancelled
            # by the handler.
            teardown = sys._getframe(1).f_code.co_name == "_cancel_all_tasks"
            self.get_loop().tracer.cancel(self._lt_work, TEARDOWN if teardown else None)
        return super().cancel(msg)

    def set_name(self, value: object) -> None:
        super().set_name(value)
        self.get_loop().tracer.rename(self._lt_work, str(value))


class TracedHandle(events.Handle):
    """A `call_soon` handle from handler code; cancelling it finishes its work as cancelled."""

    __slots__ = ("_lt_tracer", "_lt_work")

    def cancel(self) -> None:
        if not self._cancelled:
            self._lt_tracer.cancel(self._lt_work)
            self._lt_tracer.done(self._lt_work, "cancelled")
        super().cancel()


class TracedTimerHandle(events.TimerHandle):
    """A `call_later`/`call_at` timer from handler code (cancel is seen by the loop hook)."""

    __slots__ = ("_lt_work",)


class RuntimeHandle(events.Handle):
    """A callback of the runtime itself (setImmediate-like): untraced, never keeps the loop alive."""

    __slots__ = ()


class VirtualSelector:
    """Selector wrapper for the virtual clock: an idle wait jumps time instead of sleeping."""

    def __init__(self, inner: Any, loop: TracedLoop) -> None:
        self._inner = inner
        self._loop = loop

    def select(self, timeout: float | None = None) -> list[Any]:
        ready: list[Any] = self._inner.select(0)
        if ready or timeout == 0:
            return ready
        if timeout is None:
            # Nothing scheduled: only a socket or another thread can wake the loop, in real time.
            return list(self._inner.select(None))
        if self._loop.waits_on_real_world():
            ready = self._inner.select(min(timeout, REAL_IO_WAIT_S))
            if ready:
                return list(ready)
            if self._loop.threads_in_flight():
                return []
        self._loop.clock.advance(round(timeout * 1e9))
        return []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class FatalError(Exception):
    """Raised out of a loop turn when the environment must exit (Node: uncaught error)."""

    def __init__(self, exc: BaseException, exit_code: int, work: int | None) -> None:
        super().__init__(str(exc))
        self.exc = exc
        self.exit_code = exit_code
        self.work = work


class TracedLoop(asyncio.SelectorEventLoop):
    """Selector event loop on the emulated clock, reporting all work to a `Tracer`."""

    def __init__(
        self,
        tracer: Tracer,
        clock: EmulatedClock,
        *,
        fatal_uncaught: bool = True,
        report_drops: bool = True,
    ) -> None:
        # Set before super().__init__(): it registers the self-pipe through _add_reader.
        self.tracer = tracer
        self.clock = clock
        self.fatal_uncaught = fatal_uncaught
        """Node semantics: an uncaught error in a callback or an unhandled task failure ends the
        environment. Python semantics (False): asyncio logs it and goes on."""
        self.report_drops = report_drops
        """On close, record scheduled timers and callbacks as dropped (loops the handler made)."""
        self._traced = False
        self._io_work: dict[int, int] = {}
        self._io_modes: dict[int, set[str]] = {}
        self._unref_fds: set[int] = set()
        self._unref_timers: set[int] = set()
        self._runtime_timers: set[int] = set()
        self._executor_jobs: dict[int, int] = {}
        self._executor_lock = threading.Lock()
        self._failed_tasks: list[TracedTask] = []
        self.fatal: FatalError | None = None
        super().__init__()
        if clock.virtual:
            self._selector = VirtualSelector(self._selector, self)  # type: ignore[has-type]
        self.set_task_factory(self._make_task)
        self._emit_work = tracer.writer.emit_work
        self._tick = clock.tick
        if tracer.core is not None and clock is tracer.clock:
            # (The C runner ticks the tracer's clock: with another clock the Python path runs.)
            # The C step runner and call_soon (an instance attribute: the C Task looks call_soon
            # up on the loop); anything but a task step still goes to the method below.
            runner = fastrec.StepRunner(tracer.core, tracer, self._task_finished)
            method = MethodType(type(self).call_soon, self)
            # Also asyncio's done-callbacks of tasks (gather hearing of a child) run as the
            # current work through the C RunAs instead of `_run_as`.
            self.call_soon = fastrec.CallSoon(  # type: ignore[method-assign]
                self,
                runner,
                TracedTask,
                events.Handle,
                self._ready,
                method,
                tracer=tracer,
                run_as=fastrec.RunAs(tracer),
                loop_thread=tracer.loop_thread,
            )
            # Task creation from user code on the loop thread; the rest goes to `_make_task`.
            self.set_task_factory(
                fastrec.TaskFactory(
                    self,
                    tracer,
                    tracer.core,
                    TracedTask,
                    self._make_task,
                    created_in_var,
                    WorkInfo,
                    tracer.loop_thread,
                    STACK_DEPTH,
                )
            )
        self._traced = True

    def time(self) -> float:
        return self.clock.now_s()

    # -- tasks ----------------------------------------------------------------------------------

    def _make_task(self, loop: Any, coro: Any, context: Context | None = None) -> asyncio.Task[Any]:
        tracer = self.tracer
        code = getattr(coro, "cr_code", None)
        if code is not None and tracer._is_internal(code):
            # asyncio's own housekeeping (asyncio.run's shutdown_asyncgens...): not the handler's.
            return asyncio.Task(coro, loop=self, context=context)
        name = str(getattr(coro, "__qualname__", None) or type(coro).__name__)
        work = tracer.create("task", name, parent=tracer.current(), frame=sys._getframe(1))
        task = TracedTask(coro, loop=self, context=context)
        task._lt_work = work
        return task

    def new_task(self, coro: Any, work: int, context: Context | None = None) -> TracedTask:
        """A TracedTask for `coro` standing for `work`. The C initialiser schedules the first
        step before `_lt_work` is set; the step reads it only when it runs."""
        task = TracedTask(coro, loop=self, context=context)
        task._lt_work = work
        return task

    def _run_task_step(self, task: TracedTask, step: Callable[..., Any], *args: Any) -> None:
        # The hottest path of a recording: two events a step, so everything is bound locally.
        tracer = self.tracer
        emit = self._emit_work
        work = task._lt_work
        emit(BEGIN, tracer.inv_b, work)
        previous = tracer.current_work
        tracer.current_work = work
        try:
            step(*args)
        finally:
            tracer.current_work = previous
            self._tick()
            emit(END, tracer.inv_b, work)
        if task.done():
            self._task_finished(task, work)

    def _task_finished(self, task: TracedTask, work: int) -> None:
        """The task's last step ran: its work.done, and an unhandled failure noted."""
        tracer = self.tracer
        if task.cancelled():
            tracer.done(work, "cancelled")
        else:
            exc = task._exception  # not .exception(): that marks it retrieved
            if exc is None:
                tracer.done(work, "ok")
            else:
                tracer.done(work, "error", exc)
                if not getattr(task, "_lt_listened", False):
                    self._failed_tasks.append(task)

    # -- callbacks and timers -------------------------------------------------------------------

    def call_soon(self, callback: Any, *args: Any, context: Context | None = None) -> Any:
        owner = getattr(callback, "__self__", None)
        if type(owner) is TracedTask:
            # A task step or wakeup (scheduled by the C Task): what BaseEventLoop.call_soon does,
            # without its debug-mode checks, wrapped so the step is recorded.
            if self._closed:
                raise RuntimeError("Event loop is closed")
            handle = events.Handle(self._run_task_step, (owner, callback, *args), self, context)
            self._ready.append(handle)
            return handle
        if args and type(args[0]) is TracedTask:
            args[0]._lt_listened = True  # a done-callback of the task is being scheduled
        if not self._traced or threading.get_ident() != self.tracer.loop_thread:
            return super().call_soon(callback, *args, context=context)
        if _is_internal_callback(callback):
            current = self.tracer.current_work
            if current is None:
                return super().call_soon(callback, *args, context=context)
            # asyncio working for a unit of work (a transport registering its socket, gather
            # hearing of a child): whatever it creates is that work's child.
            if self._closed:
                raise RuntimeError("Event loop is closed")
            handle = events.Handle(self._run_as, (current, callback, *args), self, context)
            self._ready.append(handle)
            return handle
        self._check_closed()
        work = self.tracer.create(
            "callback",
            callable_name(callback),
            parent=self.tracer.current(),
            frame=sys._getframe(1),
        )
        handle = TracedHandle(self._run_callback, (work, callback, *args), self, context)
        handle._lt_tracer = self.tracer
        handle._lt_work = work
        self._ready.append(handle)
        return handle

    def _run_as(self, work: int, callback: Callable[..., Any], *args: Any) -> None:
        tracer = self.tracer
        previous = tracer.current_work
        tracer.current_work = work
        try:
            callback(*args)
        finally:
            tracer.current_work = previous

    def call_at(
        self, when: float, callback: Any, *args: Any, context: Context | None = None
    ) -> Any:
        if not self._traced or _is_internal_callback(callback):
            return super().call_at(when, callback, *args, context=context)
        self._check_closed()
        delay_ns = max(0, round((when - self.time()) * 1e9))
        work = self.tracer.create(
            "timer",
            callable_name(callback),
            parent=self.tracer.current(),
            delay_ns=delay_ns,
            frame=sys._getframe(1),
        )
        timer = TracedTimerHandle(when, self._run_callback, (work, callback, *args), self, context)
        timer._lt_work = work
        heapq.heappush(self._scheduled, timer)
        timer._scheduled = True
        return timer

    def _run_callback(self, work: int, callback: Callable[..., Any], *args: Any) -> None:
        tracer = self.tracer
        try:
            tracer.step(work, callback, args)
        except (SystemExit, KeyboardInterrupt) as exc:
            tracer.done(work, "error", exc)
            raise
        except BaseException as exc:
            tracer.done(work, "error", exc)
            self._uncaught(exc, work)
            return
        tracer.done(work, "ok")

    def _timer_handle_cancelled(self, handle: Any) -> None:
        if isinstance(handle, TracedTimerHandle):
            self.tracer.cancel(handle._lt_work)
            self.tracer.done(handle._lt_work, "cancelled")
        super()._timer_handle_cancelled(handle)

    def runtime_soon(self, callback: Callable[[], None]) -> None:
        """Run `callback` in the next turn, as the runtime (Node's setImmediate)."""
        self._ready.append(RuntimeHandle(callback, (), self, None))

    def runtime_timer(self, when: float, callback: Callable[[], None]) -> asyncio.TimerHandle:
        """A timer of the runtime itself (the deadline): untraced and never keeps the loop alive."""
        handle = super().call_at(when, callback)
        self._runtime_timers.add(id(handle))
        return handle

    # -- errors ---------------------------------------------------------------------------------

    def _uncaught(self, exc: BaseException, work: int | None) -> None:
        """An exception escaped a callback: Node's uncaughtException (exit 129) or asyncio's log."""
        if self.fatal_uncaught:
            if self.fatal is None:
                self.fatal = FatalError(exc, 129, work)
            return
        self.call_exception_handler({"message": f"Exception in callback {work}", "exception": exc})

    def check_unhandled(self) -> None:
        """After a turn: a task that failed with nobody listening is an unhandled rejection."""
        if not self._failed_tasks:
            return
        failed, self._failed_tasks = self._failed_tasks, []
        for task in failed:
            if task._log_traceback and self.fatal_uncaught and self.fatal is None:
                task._log_traceback = False  # reported here instead
                self.fatal = FatalError(task._exception or RuntimeError(), 128, task._lt_work)

    # -- sockets --------------------------------------------------------------------------------

    def _add_reader(self, fd: Any, callback: Any, *args: Any) -> Any:
        return self._add_io(fd, "r", callback, args)

    def _add_writer(self, fd: Any, callback: Any, *args: Any) -> Any:
        return self._add_io(fd, "w", callback, args)

    def _add_io(self, fd: Any, mode: str, callback: Any, args: tuple[Any, ...]) -> Any:
        add = super()._add_reader if mode == "r" else super()._add_writer
        fd = fd if isinstance(fd, int) else _fileno_of(fd)
        if not self._traced or fd == self._ssock.fileno():
            return add(fd, callback, *args)
        work = self._io_work.get(fd)
        if work is None:
            work = self.tracer.create(
                "io", _socket_name(fd), parent=self.tracer.current(), frame=sys._getframe(1)
            )
            self._io_work[fd] = work
            self._io_modes[fd] = set()
        self._io_modes[fd].add(mode)
        return add(fd, self._run_io, work, callback, *args)

    def _run_io(self, work: int, callback: Callable[..., Any], *args: Any) -> None:
        self.tracer.step(work, callback, args)

    def _remove_reader(self, fd: Any) -> bool:
        fd = fd if isinstance(fd, int) else _fileno_of(fd)
        removed = super()._remove_reader(fd)
        self._io_removed(fd, "r")
        return bool(removed)

    def _remove_writer(self, fd: Any) -> bool:
        fd = fd if isinstance(fd, int) else _fileno_of(fd)
        removed = super()._remove_writer(fd)
        self._io_removed(fd, "w")
        return bool(removed)

    def _io_removed(self, fd: Any, mode: str) -> None:
        modes = self._io_modes.get(fd)
        if modes is None:
            return
        modes.discard(mode)
        if not modes:
            del self._io_modes[fd]
            self._unref_fds.discard(fd)
            self.tracer.done(self._io_work.pop(fd), "ok")

    # -- executor -------------------------------------------------------------------------------

    def run_in_executor(self, executor: Any, func: Callable[..., T], *args: Any) -> Any:
        if not self._traced:
            return super().run_in_executor(executor, func, *args)
        tracer = self.tracer
        work = tracer.create(
            "executor", callable_name(func), parent=tracer.current(), frame=sys._getframe(1)
        )
        with self._executor_lock:
            self._executor_jobs[work] = 1
        future = super().run_in_executor(executor, self._run_job, work, func, *args)
        future.add_done_callback(lambda f: self._job_done(work, f))
        return future

    def _run_job(self, work: int, func: Callable[..., T], *args: Any) -> T:
        tracer = self.tracer
        tracer.set_thread_work(work)
        tracer.begin(work)
        try:
            return func(*args)
        finally:
            tracer.end(work)
            tracer.set_thread_work(None)

    def _job_done(self, work: int, future: asyncio.Future[Any]) -> None:
        with self._executor_lock:
            self._executor_jobs.pop(work, None)
        if future.cancelled():
            self.tracer.done(work, "cancelled")
        elif future.exception() is not None:
            self.tracer.done(work, "error", future.exception())
        else:
            self.tracer.done(work, "ok")

    def threads_in_flight(self) -> bool:
        return bool(self._executor_jobs)

    def waits_on_real_world(self) -> bool:
        """Something outside the loop (a socket, a thread) may wake it in real time."""
        return bool(self._executor_jobs) or any(fd not in self._unref_fds for fd in self._io_modes)

    # -- unref and "is the loop empty?" ---------------------------------------------------------

    def unref(self, handle: Any) -> None:
        """Like Node's `.unref()`: the timer or socket no longer keeps the loop alive."""
        if isinstance(handle, asyncio.TimerHandle):
            self._unref_timers.add(id(handle))
            if isinstance(handle, TracedTimerHandle):
                self.tracer.set_ref(handle._lt_work, False)
            return
        fd = _fileno_of(handle)
        if fd is None:
            raise TypeError(
                f"cannot unref {type(handle).__name__}: not a timer, socket or transport"
            )
        self._unref_fds.add(fd)
        work = self._io_work.get(fd)
        if work is not None:
            self.tracer.set_ref(work, False)

    def keepers(self) -> list[int]:
        """Work that keeps the loop busy now (ref'd timers, ready callbacks, sockets, jobs)."""
        found: set[int] = set()
        for handle in self._ready:
            if not handle._cancelled and type(handle) is not RuntimeHandle:
                owner = _owner_of(handle)
                if owner is not None:
                    found.add(owner)
        for timer in self._scheduled:
            if (
                not timer._cancelled
                and id(timer) not in self._runtime_timers
                and id(timer) not in self._unref_timers
            ):
                owner = _owner_of(timer)
                if owner is not None:
                    found.add(owner)
        found.update(w for fd, w in self._io_work.items() if fd not in self._unref_fds)
        found.update(self._executor_jobs)
        return sorted(found)

    def has_ready(self) -> bool:
        """Callbacks of handler work are waiting to run in the next turn."""
        return any(not h._cancelled and type(h) is not RuntimeHandle for h in self._ready)

    def close(self) -> None:
        # Pending tasks die with a frozen environment on purpose; asyncio's "Task was destroyed
        # but it is pending!" warning would only be noise in the handler's output.
        for task in asyncio.all_tasks(self):
            task._log_destroy_pending = False
            coro = task.get_coro()
            if inspect.iscoroutine(coro) and inspect.getcoroutinestate(coro) == "CORO_CREATED":
                coro.close()  # never started: no "was never awaited" warning for a dead task
        if self.report_drops and not self.is_closed():
            for handle in [*self._ready, *self._scheduled]:
                work = getattr(handle, "_lt_work", None)
                if work is not None and not handle._cancelled:
                    self.tracer.cancel(work, DROPPED)
                    self.tracer.done(work, "cancelled")
        super().close()

    def is_alive(self) -> bool:
        """Node's notion: anything ref'd left? (Pending futures/promises alone don't count.)"""
        for handle in self._ready:
            if not handle._cancelled and type(handle) is not RuntimeHandle:
                return True
        for timer in self._scheduled:
            if (
                not timer._cancelled
                and id(timer) not in self._runtime_timers
                and id(timer) not in self._unref_timers
            ):
                return True
        if self._executor_jobs:
            return True
        return any(fd not in self._unref_fds for fd in self._io_modes)

    # -- driving --------------------------------------------------------------------------------

    @contextmanager
    def running(self) -> Iterator[None]:
        """Make this the running loop of the thread without run_forever (as 3.11's does)."""
        self._check_closed()
        self._check_running()
        self._set_coroutine_origin_tracking(self._debug)
        self._thread_id = threading.get_ident()
        old_hooks = sys.get_asyncgen_hooks()
        sys.set_asyncgen_hooks(
            firstiter=self._asyncgen_firstiter_hook,
            finalizer=self._asyncgen_finalizer_hook,
        )
        events._set_running_loop(self)
        try:
            yield
        finally:
            self._stopping = False
            self._thread_id = None  # type: ignore[assignment]
            events._set_running_loop(None)
            self._set_coroutine_origin_tracking(False)
            sys.set_asyncgen_hooks(*old_hooks)

    def turn(self) -> None:
        """Run one loop iteration (inside `running()`); raise FatalError if one occurred."""
        self._run_once()
        self.check_unhandled()
        if self.fatal is not None:
            fatal, self.fatal = self.fatal, None
            raise fatal


def _owner_of(handle: Any) -> int | None:
    """The work a scheduled handle belongs to: its own, its task's, or the task it will wake."""
    work = getattr(handle, "_lt_work", None)
    if work is not None:
        return int(work)
    callback = handle._callback
    if getattr(callback, "__func__", None) is TracedLoop._run_as or (
        fastrec is not None and type(callback) is fastrec.RunAs
    ):
        return int(handle._args[0])
    owner = getattr(callback, "__self__", None)
    if type(owner) is TracedTask:
        return int(owner._lt_work)
    args = handle._args or ()
    if args and type(args[0]) is TracedTask:
        return int(args[0]._lt_work)
    if args and isinstance(args[0], asyncio.Future):
        # asyncio.sleep's timer resolves a future; whoever waits on it is the owner.
        for cb, _ctx in args[0]._callbacks or ():
            waiter = getattr(cb, "__self__", None)
            if type(waiter) is TracedTask:
                return int(waiter._lt_work)
    return None


def _fileno_of(handle: Any) -> int | None:
    if isinstance(handle, int):
        return handle
    if isinstance(handle, socket.socket):
        return handle.fileno()
    get_extra = getattr(handle, "get_extra_info", None)
    if get_extra is not None:
        sock = get_extra("socket")
        if sock is not None:
            return int(sock.fileno())
    fileno = getattr(handle, "fileno", None)
    return int(fileno()) if callable(fileno) else None


def _socket_name(fd: int) -> str:
    try:
        sock = socket.socket(fileno=fd)
    except OSError:
        return f"fd {fd}"
    try:
        try:
            peer = sock.getpeername()
        except OSError:
            peer = None
        if isinstance(peer, tuple) and len(peer) >= 2:
            return f"socket {peer[0]}:{peer[1]}"
        if peer:
            return f"socket {peer}"
        return "socket (unconnected)" if sock.family != socket.AF_UNIX else "socket (unix)"
    finally:
        sock.detach()


def format_exception_stack(exc: BaseException, limit: int = 6) -> list[str]:
    """Innermost frames of an exception as `file:line in func` lines."""
    frames = traceback.extract_tb(exc.__traceback__)[-limit:]
    return [f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno} in {f.name}" for f in frames]
