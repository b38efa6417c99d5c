"""The Python runtime's rules (awslambdaric): a synchronous handler whose return value is posted
as soon as it returns, and a freeze right after. Nothing waits for anything.

Handlers that use asyncio get traced loops from an event-loop policy installed for the
environment, without changing a line: `asyncio.run()` (which cancels leftover tasks and drops
timers at its end: recorded as `dropped`) and a module-level loop driven by `run_until_complete`
(whose unfinished tasks resume inside the next invocation's `run_until_complete`).
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import orjson

from .context import LambdaContext
from .invocation import Invocation, error_parts
from .loop import TracedLoop
from .tracer import Tracer


class TracedLoopPolicy(asyncio.DefaultEventLoopPolicy):
    """Every loop the handler makes is a TracedLoop on the environment's tracer and clock."""

    def __init__(self, tracer: Tracer) -> None:
        super().__init__()
        self._tracer = tracer
        self.loops: list[TracedLoop] = []

    def new_event_loop(self) -> asyncio.AbstractEventLoop:
        loop = TracedLoop(self._tracer, self._tracer.clock, fatal_uncaught=False)
        self.loops.append(loop)
        return loop

    def discard(self) -> None:
        """The environment is gone: its loops' pending tasks die silently, as on Lambda."""
        for loop in self.loops:
            for task in asyncio.all_tasks(loop):
                task._log_destroy_pending = False  # type: ignore[attr-defined]


class PythonInvocation(Invocation):
    """One call of a synchronous `def handler(event, context)`."""

    def run(self) -> Any:
        # No loop is driven by this runtime: the handler is called, its value posted, and the
        # environment frozen, all at once.
        self.before_handler()
        self.start()
        self.result.pending = self.tracer.pending()
        return self.result

    def before_handler(self) -> None:
        if not self.result.cold:
            self.rt.threads.settle_after_thaw()
        self.tracer.request_id = self.request_id

    def start(self) -> None:
        context = LambdaContext(**self.rt.context_fields(self))
        try:
            value, error = self.call_handler(self.event, context)
        except SystemExit as exc:
            self.exit_with(exc)
        if error is not None:
            self.record_call("throw", "error")
            self._post_unless_late("throw", error_parts(error))
            return
        self.record_call("return", "success")
        try:
            orjson.dumps(value)
        except TypeError:
            kind = "coroutine" if inspect.iscoroutine(value) else type(value).__name__
            if inspect.iscoroutine(value):
                value.close()  # never awaited, as on Lambda
            message = f"Unable to marshal response: Object of type {kind} is not JSON serializable"
            self._post_unless_late("return", ("Runtime.MarshalError", message))
            return
        self._post_unless_late("return", None, value)

    def _post_unless_late(
        self, via: str | None, error: tuple[str, str] | None, value: Any = None
    ) -> None:
        """Post the answer, or the timeout if the handler ran past its deadline."""
        if self.clock.now_ns() >= self.deadline_ns:
            self.time_out()
        self.post(via, error=error, result=value)
