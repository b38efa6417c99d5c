"""A task failing after the response: invocation 1's error fails invocation 2.

What bites: the handler answers with `context.succeed()` and leaves an audit upload running. The
upload fails 100 ms later, but by then the environment is frozen; the failure surfaces right after
the thaw, as an unhandled rejection in invocation 2. Node reports it against the *current*
invocation (2), which fails although its own code did nothing wrong, and the environment exits
and resets (invocation 3 is a cold start).

What the trace shows: `error` with `work` = the `upload_audit` task created in invocation 1 and
`billed` 2, `fatal` true; invocation 2 ends `crash`; `env.shutdown` reason `crash`, exit code 128;
invocation 3 `cold`: `error_misattributed`, `crossed_invocation`.

Fix: await the upload (and handle its error) before answering.
"""

import asyncio
from typing import Any


class AuditServiceError(Exception):
    pass


async def upload_audit(order: int) -> None:
    await asyncio.sleep(0.1)  # the audit service takes 100 ms to refuse
    raise AuditServiceError(f"audit service rejected order {order}: 503")


def handler(event: dict[str, Any], context: Any) -> None:
    order = event.get("order", 0)
    asyncio.get_event_loop().create_task(upload_audit(order))
    context.succeed({"order": order, "accepted": True})
