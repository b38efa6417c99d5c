"""Python runtime (`--profile python`): a module-level event loop leaks tasks into the next
invocation.

What bites: to keep an async client bound to one loop, the module creates the loop at import and
each invocation drives it with `loop.run_until_complete()`. A task the handler started but did not
await is left suspended when `run_until_complete` returns; the environment freezes; the task
resumes during the *next* invocation's `run_until_complete`, exactly like Node's leaks.

What the trace shows: invocation 1's `write_audit` task is pending at the freeze and its remaining
steps (and log line) run in invocation 2: `pending_at_freeze`, `crossed_invocation`,
`log_misattributed`.

Fix: gather everything the invocation started before `run_until_complete` returns.
"""

import asyncio
from typing import Any

loop = asyncio.new_event_loop()  # one loop per environment, reused by warm invocations


async def write_audit(order: int) -> None:
    await asyncio.sleep(0.1)  # the audit service's latency
    print(f"audit entry for order {order} written")


async def process(order: int) -> dict[str, Any]:
    asyncio.get_running_loop().create_task(write_audit(order))  # not awaited
    await asyncio.sleep(0.02)  # the order itself
    return {"order": order, "status": "paid"}


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return loop.run_until_complete(process(event.get("order", 0)))
