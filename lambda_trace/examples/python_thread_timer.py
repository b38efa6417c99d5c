"""Python runtime (`--profile python`): a `threading.Timer` that only fires in the next invocation.

What bites: the handler sends the receipt e-mail "a bit later" on a `threading.Timer` and returns.
awslambdaric posts the return value at once and the environment freezes with the timer thread
asleep; wall-clock time runs on while frozen, so the timer is overdue at the thaw and fires
inside invocation 2 — or never, if the environment is reclaimed.

What the trace shows: the `thread` work created in invocation 1 is pending at the freeze and runs
(with its log line) in invocation 2: `pending_at_freeze`, `crossed_invocation`,
`log_misattributed`.

Fix: do the work before returning, or hand it to a queue; threads are not background jobs on
Lambda.
"""

import threading
from typing import Any


def send_receipt(order: int) -> None:
    print(f"receipt for order {order} sent")


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    order = event.get("order", 0)
    threading.Timer(0.5, send_receipt, args=(order,)).start()  # "later", off the request path
    return {"order": order, "accepted": True}
