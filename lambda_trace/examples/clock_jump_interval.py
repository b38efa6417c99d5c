"""Intervals that see the clock jump after a long freeze.

What bites: wall-clock time keeps running while the environment is frozen. A lease renewer that
keeps a fixed schedule (`call_at(next_due)`, as asyncio-style code usually does) finds every tick of
the freeze overdue at the thaw and fires them all back to back; a Node-style `setInterval`
(re-armed relative to *now*) fires once, 10 s late. Either way the ticks of invocation 1's timers
run inside later invocations, and anything measuring elapsed time sees a 10 s jump.

What the trace shows (recorded with `--freeze-for 10s`): right after each `env.thaw`, a burst of
`renew_lease` ticks (timers created in invocation 1) back to back, each logging how late it is,
and one `report_health` tick 10 s late: `crossed_invocation`, `pending_at_freeze`,
`log_misattributed`.

Fix: don't keep intervals in a Lambda; if you must, compute from the current time when a tick
fires (skip missed ticks) and treat a jump larger than the period as "we were frozen".
"""

import asyncio
from collections.abc import Callable
from typing import Any

PERIOD_S = 1.0

started = False


class LeaseRenewer:
    """Renews a lease every second on a fixed schedule (catches up on missed ticks)."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.next_due = self.loop.time() + PERIOD_S
        self.loop.call_at(self.next_due, self.renew_lease)

    def renew_lease(self) -> None:
        late_ms = (self.loop.time() - self.next_due) * 1000
        print(f"lease renewed ({late_ms:.0f} ms late)")
        self.next_due += PERIOD_S
        self.loop.call_at(self.next_due, self.renew_lease)


def set_interval(seconds: float, fn: Callable[[], None]) -> None:
    """Node's setInterval: the next tick is armed relative to now, so missed ticks are skipped."""
    loop = asyncio.get_running_loop()

    def tick() -> None:
        fn()
        loop.call_later(seconds, tick)

    loop.call_later(seconds, tick)


def make_health_reporter() -> Callable[[], None]:
    loop = asyncio.get_running_loop()
    last = [loop.time()]

    def report_health() -> None:
        gap = loop.time() - last[0]
        last[0] = loop.time()
        print(f"health ok (previous report {gap:.1f} s ago)")

    return report_health


async def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    global started
    if not started:  # start the background timers once per environment
        started = True
        LeaseRenewer()
        set_interval(PERIOD_S, make_health_reporter())
    await asyncio.sleep(0.05)  # the request's own work
    return {"ok": True}
