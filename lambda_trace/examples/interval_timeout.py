"""A callback handler that starts a repeating timer (Node's `setInterval`) and never clears it.

What bites: with `callbackWaitsForEmptyEventLoop` true, `callback()` waits for an empty event loop.
A repeating timer re-arms itself forever, so the loop never empties: the caller gets
`Task timed out` although the handler called back after a few microseconds, and the environment
is killed (the next invocation is a cold start).

What the trace shows: `respond.call` at the start, then the interval's `tick` timers every 250 ms until
`respond.post` with `Sandbox.Timedout`, `invoke.end` outcome `timeout`, `held_by` naming the
timer, and `env.shutdown` reason `timeout`: `timeout_keepalive`.

Fix: cancel the interval before calling back (or `lambda_trace.unref()` it, like `timer.unref()`).
"""

import asyncio
from collections.abc import Callable
from typing import Any


def set_interval(seconds: float, fn: Callable[..., None], *args: Any) -> dict[str, Any]:
    """Node's setInterval: call `fn` every `seconds` until the returned handle is cancelled."""
    loop = asyncio.get_event_loop()
    state: dict[str, Any] = {}

    def tick() -> None:
        fn(*args)
        state["timer"] = loop.call_later(seconds, tick)

    state["timer"] = loop.call_later(seconds, tick)
    return state


def report_progress(job: str) -> None:
    print(f"job {job} still running")


def handler(event: dict[str, Any], context: Any, callback: Callable[..., None]) -> None:
    job = event.get("job", "import")
    # Meant to log progress while a long import runs; nobody clears it.
    set_interval(0.25, report_progress, job)
    callback(None, {"job": job, "queued": True})
