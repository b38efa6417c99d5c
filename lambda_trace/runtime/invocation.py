"""One invocation's life, shared by every profile: respond, post, freeze, time out, or die.

A profile subclass decides *when* the response is posted and the environment frozen (SEMANTICS.md);
this base records the three instants (respond called, response posted, frozen) and the endings.
"""

from __future__ import annotations

import abc
import contextvars
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import payloads
from .loop import FatalError, format_exception_stack
from .tracer import created_in_var

if TYPE_CHECKING:
    from .core import EnvironmentRuntime


THAW_DRAIN_TURNS = 1000
"""Bound on the turns run after a thaw before the handler starts (a call_soon chain is finite)."""


@dataclass
class InvokeResult:
    """What one invocation ended with, as the caller of `Environment.invoke` sees it."""

    index: int
    request_id: str
    cold: bool
    outcome: str = "success"
    """success | error | timeout | crash"""
    response_via: str | None = None
    result: Any = None
    error_type: str | None = None
    error_message: str | None = None
    held_ns: int = 0
    duration_ns: int = 0
    pending: list[int] = field(default_factory=list)
    """Work pending at the freeze (or lost, when the environment ended)."""
    env_alive: bool = True
    exit_code: int | None = None
    handler_error: str | None = None
    """Set when the handler could not be found at INIT (the CLI reports it as bad input)."""
    init_error: str | None = None
    """`errorType: errorMessage` when the environment's INIT failed (this invocation never ran)."""


class EnvironmentExit(Exception):
    """The environment process ends (sys.exit in the handler, a fatal error, a timeout)."""

    def __init__(
        self, reason: str, exit_code: int | None, result: InvokeResult | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.exit_code = exit_code
        self.result = result


def error_parts(error: Any) -> tuple[str, str]:
    """(errorType, errorMessage) the way the Node runtime reports a callback error."""
    if isinstance(error, BaseException):
        return type(error).__name__, str(error)
    if isinstance(error, str):
        return "string", error
    return type(error).__name__, repr(error)


class Invocation(abc.ABC):
    """Base driver: subclasses implement `start()` and the per-turn `after_turn()` policy."""

    fatal_exit_code: int | None = None
    """Exit status after an uncaught error, if the runtime uses one status for every kind."""

    def __init__(
        self, rt: EnvironmentRuntime, index: int, request_id: str, event: Any, cold: bool
    ) -> None:
        self.rt = rt
        self.loop = rt.loop
        self.tracer = rt.tracer
        self.clock = rt.clock
        self.index = index
        self.request_id = request_id
        self.event = event
        self.result = InvokeResult(index, request_id, cold)
        self.start_ns = self.clock.now_ns()
        self.deadline_ns = self.start_ns + rt.config.timeout_ns
        self.responded = False
        self.posted = False
        self.call_ns: int | None = None
        self.freeze_now = False
        # Handler code runs in a context where created_in = this invocation; tasks copy it.
        self.context = contextvars.copy_context()
        self.context.run(created_in_var.set, index)

    # -- the three instants ---------------------------------------------------------------------

    def record_call(self, via: str, status: str) -> bool:
        """respond.call; returns whether this call is the one that counts (the first)."""
        accepted = not self.responded
        self.tracer.emit(
            "respond.call",
            {"via": via, "status": status, "accepted": accepted, "work": self.tracer.current()},
        )
        if accepted:
            self.responded = True
            self.call_ns = self.clock.now_ns()
            self.result.response_via = via
        return accepted

    def post(
        self,
        via: str | None,
        *,
        error: tuple[str, str] | None = None,
        result: Any = None,
        outcome: str | None = None,
        held_by: list[int] | None = None,
    ) -> None:
        """respond.post + invoke.end: the caller has its answer."""
        now = self.clock.now_ns()
        held_ns = now - self.call_ns if self.call_ns is not None else 0
        fields: dict[str, Any] = {
            "via": via,
            "status": "error" if error else "success",
            "held_ns": held_ns,
            "held_by": held_by if held_by is not None else [],
        }
        if error:
            fields["error_type"], fields["error_message"] = error
        else:
            fields.update(payloads.payload_fields("result", result, self.rt.config.record_payloads))
        self.tracer.emit("respond.post", fields)
        outcome = outcome or ("error" if error else "success")
        end: dict[str, Any] = {
            "request_id": self.request_id,
            "outcome": outcome,
            "duration_ns": now - self.start_ns,
        }
        if error:
            end["error_type"], end["error_message"] = error
        self.tracer.emit("invoke.end", end)
        self.rt.writer.flush()
        self.posted = True
        r = self.result
        r.outcome, r.held_ns, r.duration_ns = outcome, held_ns, now - self.start_ns
        r.result = None if error else result
        if error:
            r.error_type, r.error_message = error
        if via is None:
            r.response_via = None

    def freeze_after_turn(self) -> None:
        """Freeze once the loop has run one more turn (the runtime asks for the next event)."""
        self.loop.runtime_soon(self._freeze_marker)

    def _freeze_marker(self) -> None:
        self.freeze_now = True

    # -- the handler ----------------------------------------------------------------------------

    def handler_work(self, type_: str) -> int:
        """The unit of work that stands for the handler function itself in this invocation."""
        fn = self.rt.handler_fn
        return self.tracer.create(
            type_,
            str(getattr(fn, "__name__", "handler")),
            role="handler",
            created_in=self.index,
            code=getattr(fn, "__code__", None),
        )

    def call_handler(self, *args: Any) -> tuple[Any, Exception | None]:
        """Call a synchronous handler as traced work: (its value, or the exception it raised).
        SystemExit and KeyboardInterrupt propagate: they end the environment."""
        tracer = self.tracer
        work = self.handler_work("callback")
        value: Any = None
        error: BaseException | None = None
        try:
            value = tracer.step(work, self.context.run, (self.rt.handler_fn, *args))
        except BaseException as exc:
            error = exc
        tracer.done(work, "ok" if error is None else "error", error)
        if error is not None and not isinstance(error, Exception):
            raise error
        return value, error

    # -- driving --------------------------------------------------------------------------------

    def run(self) -> InvokeResult:
        """Drive the loop until the freeze; endings that kill the environment raise EnvironmentExit."""
        loop = self.loop
        deadline_timer = loop.runtime_timer(self.deadline_ns / 1e9, lambda: None)
        try:
            with loop.running():
                try:
                    self.before_handler()
                    self.start()
                    while not self.freeze_now:
                        if not self.posted and self.clock.now_ns() >= self.deadline_ns:
                            self.time_out()
                        self.after_turn()
                        if self.freeze_now:
                            break
                        loop.turn()
                except FatalError as fatal:
                    self.die_of(fatal)
                except SystemExit as exc:
                    self.exit_with(exc)
        except EnvironmentExit as ended:
            ended.result = self.result
            raise
        finally:
            deadline_timer.cancel()
        self.result.pending = self.tracer.pending()
        return self.result

    def before_handler(self) -> None:
        """The thaw turn: with timers-first, overdue timers fire before the handler starts."""
        if not self.result.cold and self.rt.config.thaw_order == "timers-first":
            self.loop.runtime_soon(lambda: None)
            self.loop.turn()
            # What the overdue timers set off runs before the handler too, as Node drains the
            # microtasks of each timer callback before it polls for the next event.
            for _ in range(THAW_DRAIN_TURNS):
                if not self.loop.has_ready():
                    break
                self.loop.turn()
        self.tracer.request_id = self.request_id

    @abc.abstractmethod
    def start(self) -> None:
        """Call the handler the way this runtime does."""

    def after_turn(self) -> None:  # noqa: B027 - optional hook; most profiles need none
        """Called before every turn: decide whether to post (e.g. the loop just emptied)."""

    # -- endings --------------------------------------------------------------------------------

    def time_out(self) -> None:
        seconds = self.rt.config.timeout_ns / 1e9
        self.post(
            None,
            error=("Sandbox.Timedout", f"Task timed out after {seconds:.2f} seconds"),
            outcome="timeout",
            held_by=self.loop.keepers(),
        )
        raise EnvironmentExit("timeout", None)

    def die_of(self, fatal: FatalError) -> None:
        """An uncaught error: billed to the invocation current now, then the environment exits."""
        exc = fatal.exc
        self.tracer.emit(
            "error",
            {
                "type": type(exc).__name__,
                "message": str(exc),
                "work": fatal.work,
                "billed": self.index,
                "fatal": True,
                "stack": format_exception_stack(exc),
            },
        )
        if not self.posted:
            self.post(None, error=error_parts(exc), outcome="crash")
        code = self.fatal_exit_code if self.fatal_exit_code is not None else fatal.exit_code
        self.result.exit_code = code
        raise EnvironmentExit("crash", code)

    def exit_with(self, exc: SystemExit) -> None:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if not self.posted:
            message = (
                f"RequestId: {self.request_id} Error: Runtime exited with error: exit status {code}"
            )
            self.post(None, error=("Runtime.ExitError", message), outcome="crash")
        self.result.exit_code = code
        raise EnvironmentExit("exit", code)
