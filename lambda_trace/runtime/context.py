"""The `context` object handlers receive: the Python runtime's, and the Node runtime's superset."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .clock import EmulatedClock

# Node spellings accepted as aliases so the seed article's examples read the same in Python.
_NODE_ALIASES = {
    "awsRequestId": "aws_request_id",
    "functionName": "function_name",
    "functionVersion": "function_version",
    "invokedFunctionArn": "invoked_function_arn",
    "memoryLimitInMB": "memory_limit_in_mb",
    "logGroupName": "log_group_name",
    "logStreamName": "log_stream_name",
    "getRemainingTimeInMillis": "get_remaining_time_in_millis",
    "callbackWaitsForEmptyEventLoop": "callback_waits_for_empty_event_loop",
}


class LambdaContext:
    """What awslambdaric passes: ids, names, limits and the remaining time."""

    _clamp_remaining = True

    def __init__(
        self,
        *,
        request_id: str,
        function_name: str,
        deadline_ns: int,
        clock: EmulatedClock,
        log_stream_name: str,
        memory_limit_in_mb: int = 128,
        region: str = "us-east-1",
        account: str = "123456789012",
    ) -> None:
        self.aws_request_id = request_id
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{region}:{account}:function:{function_name}"
        self.memory_limit_in_mb = memory_limit_in_mb
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = log_stream_name
        self.identity = None
        self.client_context = None
        self._deadline_ns = deadline_ns
        self._clock = clock

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds to the deadline on the emulated clock (clamped at 0, as awslambdaric does)."""
        remaining = (self._deadline_ns - self._clock.now_ns()) // 1_000_000
        return max(0, remaining) if self._clamp_remaining else remaining


class NodeContext(LambdaContext):
    """The Node.js runtime's context: adds succeed/fail/done and callbackWaitsForEmptyEventLoop."""

    _clamp_remaining = False

    def __init__(self, *, respond: Callable[[str, Any, Any], None], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._respond = respond
        self.callback_waits_for_empty_event_loop = True
        """Default true: callback() holds the response until the event loop is empty."""

    def succeed(self, result: Any = None) -> None:
        """Answer at once with `result` and freeze; the flag is ignored."""
        self._respond("succeed", None, result)

    def fail(self, error: Any = None) -> None:
        """Answer at once with an error (no argument: errorType "string", message "handled")."""
        self._respond("fail", "handled" if error is None else error, None)

    def done(self, error: Any = None, result: Any = None) -> None:
        """`fail(error)` if error is set, else `succeed(result)`."""
        self._respond("done", error, result)

    def __getattr__(self, name: str) -> Any:
        alias = _NODE_ALIASES.get(name)
        if alias is None:
            raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")
        return getattr(self, alias)

    def __setattr__(self, name: str, value: Any) -> None:
        super().__setattr__(_NODE_ALIASES.get(name, name), value)


class Node24Context(LambdaContext):
    """nodejs24.x: no succeed/fail/done, no callbackWaitsForEmptyEventLoop; Node spellings kept."""

    _clamp_remaining = False

    def __getattr__(self, name: str) -> Any:
        alias = _NODE_ALIASES.get(name)
        if alias is None or alias == "callback_waits_for_empty_event_loop":
            raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")
        return getattr(self, alias)
