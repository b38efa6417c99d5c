"""The article's callback handler: `callback()` with `callbackWaitsForEmptyEventLoop` left true.

What bites: `callback(None, result)` does not answer the caller. The Node runtime waits until the
event loop is empty, so the response is held while the DB write (and anything else still
scheduled) finishes: the handler "returned" after a few microseconds, the caller waited 120 ms.

What the trace shows: `respond.call` early, `respond.post` with `held_ns` ≈ 120 ms and `held_by`
naming the `save_order` task; nothing pending at the freeze: `held_response`, no leak.

Fix: that is the safe default; if the wait is too long, make the slow work faster or await it
explicitly in an `async def` handler so the latency is visible in your own code.
"""

import asyncio
from collections.abc import Callable
from typing import Any


class FakeDb:
    """An in-memory DB client; `asyncio.sleep` stands for the network round trip."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    async def put(self, row: dict[str, Any]) -> None:
        await asyncio.sleep(0.12)  # 120 ms to the database and back
        self.rows.append(row)
        print(f"saved order {row['order']}")


db = FakeDb()


async def save_order(order: int) -> None:
    await db.put({"order": order, "status": "paid"})


def handler(event: dict[str, Any], context: Any, callback: Callable[..., None]) -> None:
    order = event.get("order", 0)
    asyncio.get_event_loop().create_task(save_order(order))
    # Looks like "answer now"; with the default flag it means "answer when the loop is empty".
    callback(None, {"order": order, "accepted": True})
