"""The article's handler: `context.succeed()` while a DB write is still pending.

What bites: `succeed()` answers at once and Lambda freezes the environment one loop turn later. The
write, still waiting on the database, is frozen with it and only completes after the thaw, inside
the *next* invocation (or never, if the environment is reclaimed first).

What the trace shows: invocation 1's `save_order` task is in `env.freeze.pending` and its second
step (`work.begin`) runs in invocation 2, where its log line is tagged with invocation 1's request
id: `pending_at_freeze`, `crossed_invocation`.

Fix: wait for the write before answering (an `async def` handler that `await`s it), or keep
`succeed()` but call it from the write's completion.
"""

import asyncio
from typing import Any


class FakeDb:
    """An in-memory DB client; `asyncio.sleep` stands for the network round trip."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    async def put(self, row: dict[str, Any]) -> None:
        await asyncio.sleep(0.08)  # 80 ms to the database and back
        self.rows.append(row)
        print(f"saved order {row['order']}")


db = FakeDb()  # module level: reused by every warm invocation


async def save_order(order: int) -> None:
    await db.put({"order": order, "status": "paid"})


def handler(event: dict[str, Any], context: Any) -> None:
    order = event.get("order", 0)
    # Fire the write and answer straight away, as the article's pre-4.3 handlers did.
    asyncio.get_event_loop().create_task(save_order(order))
    context.succeed({"order": order, "accepted": True})
