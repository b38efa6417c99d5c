"""The article's callback handler migrated to Node.js 24 (`--profile node24`).

nodejs24.x removed callback handlers: a handler declaring three parameters fails INIT with
`Runtime.CallbackHandlerDeprecated` (`legacy_handler` below; recorded as its own scenario), and the
context has no `succeed`/`fail`/`done` and no `callbackWaitsForEmptyEventLoop`. The migration is
an `async def` handler that *awaits* its write: the response is the awaited return value, posted
one loop turn later, and the environment freezes right after.

What the trace shows: `handler` — every write finishes inside its own invocation, the response
goes out `via awaitable` after it, and nothing is pending at any freeze: no findings.
`legacy_handler` — `env.init.end` with `ok: false` and `Runtime.CallbackHandlerDeprecated`, every
invocation answered with that error.

Fix (for code still on callbacks): this file's `handler` is the fix.
"""

import asyncio
from collections.abc import Callable
from typing import Any


class FakeDb:
    """An in-memory DB client; `asyncio.sleep` stands for the network round trip."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    async def put(self, row: dict[str, Any]) -> None:
        await asyncio.sleep(0.08)  # 80 ms to the database and back
        self.rows.append(row)
        print(f"saved order {row['order']}")


db = FakeDb()


async def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    order = event.get("order", 0)
    await db.put({"order": order, "status": "paid"})  # awaited: nothing left to leak
    return {"order": order, "accepted": True}


def legacy_handler(event: dict[str, Any], context: Any, callback: Callable[..., None]) -> None:
    """The pre-migration handler: rejected at INIT on nodejs24.x."""
    context.callbackWaitsForEmptyEventLoop = False
    asyncio.get_event_loop().create_task(db.put({"order": event.get("order", 0)}))
    callback(None, {"accepted": True})
