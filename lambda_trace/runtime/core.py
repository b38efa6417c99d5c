"""One execution environment, in the process that runs it: INIT, invocations, freezes, shutdown.

`Environment` (supervisor.py) drives this either in a child process (the default: survives
`os._exit` and crashes) or in-process for unit tests; both write the same events.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

from ..model.writer import TraceWriter
from . import payloads
from .clock import EmulatedClock
from .handler import (
    HandlerSpecError,
    import_handler_module,
    parse_handler_spec,
    positional_arity,
    resolve_function,
)
from .invocation import EnvironmentExit, Invocation, InvokeResult
from .logs import LogCapture
from .loop import TracedLoop
from .node import CALLBACK_DEPRECATED, Node24Invocation, NodeInvocation
from .python import PythonInvocation, TracedLoopPolicy
from .threads import ThreadTracer
from .tracer import Tracer

PROFILES: dict[str, type[Invocation]] = {
    "node": NodeInvocation,
    "node24": Node24Invocation,
    "python": PythonInvocation,
}
"""Profile name -> the invocation driver implementing its rules."""


@dataclass
class RuntimeConfig:
    """How environments behave; the same for every environment of a recording."""

    handler: str
    profile: str = "node"
    clock: str = "wall"
    timeout_ns: int = 3_000_000_000
    freeze_for_ns: int = 1_000_000_000
    thaw_order: str = "timers-first"
    record_payloads: bool = False
    memory_mb: int = 128

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class EnvState:
    """Where the trace stands when an environment starts (and, updated, when it stops)."""

    env: int
    trace_path: str
    next_seq: int
    last_ts: int
    next_work_id: int
    origin_monotonic_ns: int
    offset_ns: int = 0
    invocations: int = 0
    """Invocations this environment has run."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class InitResult:
    ok: bool
    error_type: str | None = None
    error_message: str | None = None
    handler_error: str | None = None


class EnvironmentRuntime:
    """The runtime inside one environment: owns the loop, the tracer and the handler."""

    def __init__(self, config: RuntimeConfig, state: EnvState, *, capture_output: bool = True):
        if config.profile not in PROFILES:
            raise ValueError(f"unknown profile {config.profile!r}")
        self.config = config
        self.state = state
        self.spec = parse_handler_spec(config.handler)
        self.clock = EmulatedClock(
            "virtual" if config.clock == "virtual" else "wall",
            start_ns=state.last_ts,
            origin_monotonic_ns=state.origin_monotonic_ns,
            offset_ns=state.offset_ns,
        )
        self.writer = TraceWriter(
            state.trace_path,
            {},
            clock=self.clock.now_ns,
            append=True,
            next_seq=state.next_seq,
            last_ts=state.last_ts,
        )
        self.tracer = Tracer(
            self.writer, self.clock, root=self.spec.root, next_work_id=state.next_work_id
        )
        # Node: an uncaught error ends the environment; Python: asyncio logs it and goes on.
        node = config.profile != "python"
        self.loop = TracedLoop(self.tracer, self.clock, fatal_uncaught=node, report_drops=False)
        self.threads = ThreadTracer(self.tracer, self.clock)
        self.policy = TracedLoopPolicy(self.tracer) if not node else None
        self.driver = PROFILES[config.profile]
        self.capture_output = capture_output
        self.stdout = LogCapture(self.tracer, "stdout")
        self.stderr = LogCapture(self.tracer, "stderr")
        self.threads.stderr = self.stderr
        self.handler_fn: Any = None
        self.init_result: InitResult | None = None
        self.alive = True
        self.frozen_at_ns: int | None = None

    # -- phases ---------------------------------------------------------------------------------

    def init(self) -> InitResult:
        """INIT: import the handler module (module-level work is created in invocation 0)."""
        tracer = self.tracer
        tracer.invocation = 0
        start = self.clock.now_ns()
        tracer.emit("env.init.start", {"env": self.state.env})
        self.writer.flush()
        result = InitResult(ok=True)
        # Node runs module code on its event loop; Python imports it with no loop running.
        running = self.loop.running() if self.policy is None else contextlib.nullcontext()
        with self.user_code(), running:
            try:
                module = import_handler_module(self.spec)
                self.handler_fn = resolve_function(module, self.spec)
                if self.config.profile == "node24" and positional_arity(self.handler_fn) >= 3:
                    result = InitResult(False, *CALLBACK_DEPRECATED)
            except HandlerSpecError as exc:
                result = InitResult(False, "Runtime.HandlerNotFound", str(exc), str(exc))
            except SyntaxError as exc:
                result = InitResult(
                    False, "Runtime.UserCodeSyntaxError", f"{exc.msg} (line {exc.lineno})"
                )
            except ImportError as exc:
                result = InitResult(
                    False,
                    "Runtime.ImportModuleError",
                    f"Unable to import module '{self.spec.module}': {exc}",
                )
            except SystemExit as exc:
                result = InitResult(
                    False, "Runtime.ExitError", f"Runtime exited during init: {exc.code}"
                )
            except Exception as exc:
                result = InitResult(False, type(exc).__name__, str(exc))
            if self.policy is None:
                # Module-level code may have scheduled work; give it the turn Node's INIT would.
                with contextlib.suppress(Exception):
                    self.loop.runtime_soon(lambda: None)
                    self.loop.turn()
        fields: dict[str, Any] = {
            "env": self.state.env,
            "ok": result.ok,
            "duration_ns": self.clock.now_ns() - start,
        }
        if not result.ok:
            fields["error_type"] = result.error_type
            fields["error_message"] = result.error_message
        tracer.emit("env.init.end", fields)
        self.writer.flush()
        self.init_result = result
        return result

    def invoke(self, index: int, request_id: str, event: Any) -> InvokeResult:
        """Run one invocation to its freeze; raises EnvironmentExit when the environment ends."""
        tracer = self.tracer
        cold = self.frozen_at_ns is None and self.state.invocations == 0
        if self.frozen_at_ns is not None:
            self.clock.advance(self.config.freeze_for_ns)
        tracer.invocation = index
        self.state.invocations += 1
        fields: dict[str, Any] = {
            "request_id": request_id,
            "env": self.state.env,
            "cold": cold,
            "deadline_ns": self.clock.now_ns() + self.config.timeout_ns,
        }
        fields.update(payloads.payload_fields("event", event, self.config.record_payloads))
        tracer.emit("invoke.start", fields)
        if self.frozen_at_ns is not None:
            tracer.emit("env.thaw", {"frozen_ns": self.clock.now_ns() - self.frozen_at_ns})
            self.frozen_at_ns = None
            self.threads.thaw()
        self.writer.flush()
        init = self.init_result
        if init is None or not init.ok:
            return self._fail_init(index, request_id, cold, init)
        driver = self.driver(self, index, request_id, event, cold)
        with self.user_code():
            result = driver.run()
        self.freeze()
        result.pending = tracer.pending()
        return result

    def _fail_init(
        self, index: int, request_id: str, cold: bool, init: InitResult | None
    ) -> InvokeResult:
        error_type = init.error_type if init else "Runtime.Unknown"
        message = init.error_message if init else "environment not initialised"
        self.tracer.emit(
            "respond.post",
            {"via": None, "status": "error", "held_ns": 0, "held_by": [],
             "error_type": error_type, "error_message": message},
        )  # fmt: skip
        self.tracer.emit(
            "invoke.end",
            {"request_id": request_id, "outcome": "error", "duration_ns": 0,
             "error_type": error_type, "error_message": message},
        )  # fmt: skip
        result = InvokeResult(index, request_id, cold, outcome="error")
        result.error_type, result.error_message = error_type, message
        result.handler_error = init.handler_error if init else None
        result.init_error = f"{error_type}: {message}"
        raise EnvironmentExit("init_error", None, result)

    def freeze(self) -> None:
        """FREEZE: record what is pending; everything is on disk before the process stops."""
        self.threads.freeze()
        self.stdout.flush_partial()
        self.stderr.flush_partial()
        self.tracer.emit("env.freeze", {"pending": self.tracer.pending()})
        self.writer.flush()
        self.frozen_at_ns = self.clock.now_ns()

    def shutdown(self, reason: str, exit_code: int | None = None) -> list[int]:
        """SHUTDOWN: the environment ends; whatever was pending is lost."""
        self.stdout.flush_partial()
        self.stderr.flush_partial()
        lost = self.tracer.pending()
        fields: dict[str, Any] = {"reason": reason, "lost": lost}
        if exit_code is not None:
            fields["exit_code"] = exit_code
        self.tracer.emit("env.shutdown", fields)
        self.writer.flush()
        self.alive = False
        return lost

    def close(self) -> None:
        self.threads.uninstall()
        if self.policy is not None:
            self.policy.discard()
        self.writer.close()
        with contextlib.suppress(Exception):
            self.loop.close()

    def snapshot(self) -> EnvState:
        """The state the next environment continues from (seq, clock, work ids)."""
        s = self.state
        s.next_seq = self.writer.next_seq
        s.last_ts = max(self.writer.last_ts, self.clock.now_ns())
        s.next_work_id = self.tracer.next_work_id
        s.offset_ns = self.clock.offset_ns
        return s

    # -- helpers --------------------------------------------------------------------------------

    @contextlib.contextmanager
    def user_code(self) -> Iterator[None]:
        """While handler code runs: its output is captured and this loop is the current one."""
        saved = sys.stdout, sys.stderr
        saved_policy = asyncio.get_event_loop_policy()
        if self.capture_output:
            sys.stdout, sys.stderr = self.stdout, self.stderr
        self.threads.install()
        if self.policy is not None:
            asyncio.set_event_loop_policy(self.policy)
        else:
            asyncio.set_event_loop(self.loop)
        try:
            yield
        finally:
            if self.capture_output:
                sys.stdout, sys.stderr = saved
            if self.policy is not None:
                asyncio.set_event_loop_policy(saved_policy)

    def context_fields(self, inv: Invocation) -> dict[str, Any]:
        """Keyword arguments for the context object of an invocation."""
        stream = hashlib.sha256(f"{self.state.env}:{self.spec.raw}".encode()).hexdigest()[:32]
        return {
            "request_id": inv.request_id,
            "function_name": self.spec.function_name,
            "deadline_ns": inv.deadline_ns,
            "clock": self.clock,
            "log_stream_name": f"{time.strftime('%Y/%m/%d')}/[$LATEST]{stream}",
            "memory_limit_in_mb": self.config.memory_mb,
        }
