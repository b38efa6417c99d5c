"""A fire-and-forget HTTP call: finishes in a later invocation, or never.

What bites: an `async def` handler posts an analytics event without awaiting it. The response is
posted as soon as the handler returns and the environment freezes a turn later with the request in
flight. If another invocation comes, the call completes after the thaw, inside it; if Lambda
reclaims the idle environment first, the call is simply lost.

What the trace shows (recorded with `--reclaim-after 2`): invocation 1's `send_analytics` task is
pending at the freeze and finishes in invocation 2 (`crossed_invocation`); invocation 2's is pending
when the environment is reclaimed and is listed in `env.shutdown` (reason `spindown`) `lost`:
`lost`.

Fix: `await` the call (it costs the caller its latency), or hand the event to something that
outlives the environment (a queue, Lambda extensions, or a bounded flush before returning).
"""

import asyncio
from typing import Any


class FakeHttpClient:
    """An HTTP client whose requests take `latency` seconds; nothing leaves the machine."""

    def __init__(self, latency: float) -> None:
        self.latency = latency

    async def post(self, url: str, body: dict[str, Any]) -> int:
        await asyncio.sleep(self.latency)
        print(f"POST {url} -> 202")
        return 202


http = FakeHttpClient(latency=0.3)


async def send_analytics(page: str) -> None:
    await http.post("https://analytics.example/events", {"page": page})


async def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    page = event.get("page", "/")
    asyncio.get_running_loop().create_task(send_analytics(page))  # fire and forget
    return {"statusCode": 200, "body": f"rendered {page}"}
