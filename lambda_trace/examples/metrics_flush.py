"""A metrics buffer frozen mid-flush: invocation 1's telemetry is sent (and logged) in invocation 2.

What bites: the handler records metrics into a buffer and starts a background flush that sends
them in batches. The response goes out when the handler returns; the environment freezes with the
flush barely started. After the thaw, the rest of the flush runs inside invocation 2, while its
handler waits on the DB: its log lines are tagged first with invocation 1's request id, then —
once invocation 2's handler has started — with invocation 2's, and the metrics arrive a whole
freeze late.

What the trace shows: `flush` created in invocation 1 runs in invocation 2 (`crossed_invocation`);
its `sent batch` log lines have `inv` 2 (`log_misattributed`).

Fix: flush before returning (bounded by `context.get_remaining_time_in_millis()`), or use a
telemetry extension that flushes outside the frozen process.
"""

import asyncio
from typing import Any


class MetricsClient:
    """Buffers data points and ships them in batches of 2; each batch is a 50 ms request."""

    batch_size = 2

    def __init__(self) -> None:
        self.buffer: list[tuple[str, float]] = []

    def record(self, name: str, value: float) -> None:
        self.buffer.append((name, value))

    async def flush(self) -> None:
        points, self.buffer = self.buffer, []
        batches = [points[i : i + self.batch_size] for i in range(0, len(points), self.batch_size)]
        for n, batch in enumerate(batches, 1):
            await asyncio.sleep(0.05)  # one request to the metrics backend
            print(f"sent batch {n}/{len(batches)} ({len(batch)} points)")


metrics = MetricsClient()


async def load_order(order: int) -> dict[str, Any]:
    await asyncio.sleep(0.12)  # the handler's real work: a 120 ms DB read
    return {"order": order, "items": 3}


async def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    order = await load_order(event.get("order", 0))
    items = order["items"]
    metrics.record("orders.items", items)
    metrics.record("orders.count", 1)
    metrics.record("orders.latency_ms", 12.5)
    metrics.record("cold_start", 0)
    metrics.record("db.calls", 2)
    # Ship the metrics in the background so the caller doesn't wait for them.
    asyncio.get_running_loop().create_task(metrics.flush())
    return {"order": order["order"], "ok": True}
