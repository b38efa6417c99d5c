"""The Node.js runtime's response and freeze rules (nodejs18/20/22, and nodejs24.x).

Read from the runtime interface client and SEMANTICS.md: `callback()` with the flag true holds the
response until the event loop is empty and posts one turn later; everything else posts at once and
freezes one turn after the post. "Empty" is Node's beforeExit: nothing ref'd left
(TracedLoop.is_alive).
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

from . import handler as handler_mod
from .context import Node24Context, NodeContext
from .invocation import Invocation, error_parts

CALLBACK_DEPRECATED = (
    "Runtime.CallbackHandlerDeprecated",
    "AWS Lambda has removed support for callback-based function handlers starting with "
    "Node.js 24. You need to modify this function to use a supported handler signature to use "
    "Node.js 24 or later. For more information see "
    "https://docs.aws.amazon.com/lambda/latest/dg/nodejs-handler.html.",
)


class NodeInvocation(Invocation):
    """nodejs18/20/22 (runtime interface client v3)."""

    def start(self) -> None:
        rt = self.rt
        fn = rt.handler_fn
        self.arity = handler_mod.positional_arity(fn)
        self.is_async = handler_mod.is_async_function(fn)
        self.held = False
        """callback(None, r) with the flag true was accepted: post when the loop is empty."""
        self.held_result: Any = None
        self.on_empty: str | None = None
        """What the runtime does if the loop empties before any response: "null" or "exit"."""
        self.held_by: list[int] = []
        self.ctx = self.make_context()
        args: list[Any] = [self.event, self.ctx]
        if self.arity >= 3:
            args.append(self.callback)
        if self.is_async:
            coro = self.context.run(fn, *args)
            work = self.handler_work("task")
            task = self.loop.new_task(coro, work, self.context)
            task.add_done_callback(self._settled)
            self.on_empty = "exit"
            return
        value, error = self.call_handler(*args)
        if error is not None:
            self.respond("throw", error, None)
            return
        if inspect.isawaitable(value):
            future = self.context.run(asyncio.ensure_future, value)
            future.add_done_callback(self._settled)
            self.on_empty = "exit"
        else:
            self.sync_returned(value)

    def sync_returned(self, value: Any) -> None:
        """A synchronous handler returned a plain value: Node ignores it and waits for the loop."""
        # 2 arguments: null is posted when the loop empties ("return"); 3 arguments and no
        # callback yet: null is posted then too, unless the callback comes first.
        self.on_empty = "return" if self.arity < 3 else "null"

    def make_context(self) -> Any:
        return NodeContext(respond=self.respond, **self.rt.context_fields(self))

    # -- how the handler answers ----------------------------------------------------------------

    def callback(self, error: Any = None, result: Any = None) -> None:
        """The third handler argument, `callback(err, result)`."""
        self.respond("callback", error, result)

    def respond(self, via: str, error: Any, result: Any) -> None:
        status = "error" if error is not None else "success"
        if not self.record_call(via, status):
            return  # a second or stale response: ignored
        if error is not None:
            self.post(via, error=error_parts(error))
            self.freeze_after_turn()
        elif via == "callback" and self.ctx.callback_waits_for_empty_event_loop:
            self.held = True
            self.held_result = result
        else:
            self.post(via, result=result)
            self.freeze_after_turn()

    def _settled(self, future: asyncio.Future[Any]) -> None:
        if future.cancelled():
            self.respond("awaitable", asyncio.CancelledError("handler cancelled"), None)
            return
        exc = future.exception()
        if exc is not None:
            self.respond("awaitable", exc, None)
        else:
            self.respond("awaitable", None, future.result())

    # -- beforeExit -----------------------------------------------------------------------------

    def after_turn(self) -> None:
        if self.posted:
            return
        if self.held:
            keepers = self.loop.keepers()
            self.held_by.extend(w for w in keepers if w not in self.held_by)
            if self.loop.is_alive():
                return
            self.held = False
            # The response goes out in a setImmediate after beforeExit: one loop turn later.
            self.loop.runtime_soon(self._post_held)
            return
        if self.responded or self.on_empty is None or self.loop.is_alive():
            return
        if self.on_empty == "exit":
            self.post(None, error=("Runtime.NodeJsExit", _NODE_EXIT_MESSAGE))
        else:
            self.post("return" if self.on_empty == "return" else None, result=None)
        self.on_empty = None
        self.freeze_after_turn()

    def _post_held(self) -> None:
        self.post("callback", result=self.held_result, held_by=self.held_by)
        self.freeze_now = True


_NODE_EXIT_MESSAGE = (
    "Error: Runtime exited without providing a reason. The handler's promise never settled and "
    "the event loop is empty."
)


class Node24Invocation(NodeInvocation):
    """nodejs24.x (runtime interface client v4): promise-only handlers."""

    fatal_exit_code = 1
    """An unhandled error kills the process with status 1 (v3 used 128/129)."""

    def make_context(self) -> Any:
        return Node24Context(**self.rt.context_fields(self))

    def respond(self, via: str, error: Any, result: Any) -> None:
        status = "error" if error is not None else "success"
        if not self.record_call(via, status):
            return
        if error is not None:
            self.post(via, error=error_parts(error))
            self.freeze_after_turn()
            return
        # The awaited value is posted one loop turn later; the freeze follows right after.
        self.loop.runtime_soon(lambda: self._post_value(via, result))

    def sync_returned(self, value: Any) -> None:
        self.respond("return", None, value)

    def _post_value(self, via: str, result: Any) -> None:
        self.post(via, result=result)
        self.freeze_now = True

    def after_turn(self) -> None:
        if self.posted or self.responded or self.loop.is_alive():
            return
        if self.on_empty is not None:
            # The promise never settled and nothing is left to run: Node exits with status 0.
            raise SystemExit(0)
