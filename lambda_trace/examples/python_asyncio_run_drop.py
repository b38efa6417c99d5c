"""Python runtime (`--profile python`): `asyncio.run()` per invocation drops fire-and-forget work.

What bites: each invocation runs its async code with `asyncio.run()`. The analytics call is
started with `create_task` and not awaited; when `main()` returns, `asyncio.run()` cancels every
task still pending and closes the loop. Nothing leaks into the next invocation — the analytics
event is silently never sent.

What the trace shows: the `send_analytics` task gets `work.cancel` and `work.done` status
`cancelled` inside its own invocation, before the response: `dropped`.

Fix: `await` the call (or `asyncio.gather` it with the main work) before returning.
"""

import asyncio
from typing import Any


async def send_analytics(page: str) -> None:
    await asyncio.sleep(0.2)  # the analytics endpoint's latency
    print(f"analytics for {page} sent")


async def render(page: str) -> dict[str, Any]:
    asyncio.get_running_loop().create_task(send_analytics(page))  # fire and forget
    await asyncio.sleep(0.02)  # render the page
    return {"statusCode": 200, "body": f"rendered {page}"}


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return asyncio.run(render(event.get("page", "/")))
