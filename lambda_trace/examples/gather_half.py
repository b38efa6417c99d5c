"""Half of an `asyncio.gather` finishes in the next invocation.

What bites: the handler fans out four lookups with one `gather`, but answers with
`context.succeed()` as soon as the two the response needs are in; the other two only warm a cache.
`succeed()` freezes the environment one loop turn later, so the slow half of the gather is frozen
mid-flight and completes after the thaw, inside the next invocation (its cache writes and log
lines land there).

What the trace shows: the `lookup recommendations` and `lookup history` tasks are pending at
invocation 1's freeze and their `work.begin` after the thaw is in invocation 2; the gather's
`cache warmed` log is emitted in invocation 2: `crossed_invocation`, `pending_at_freeze`,
`log_misattributed`.

Fix: answer after the whole gather (`await` it in an `async def` handler), or move the cache
warming out of the request path.
"""

import asyncio
from typing import Any

cache: dict[str, str] = {}

LOOKUPS = [("profile", 0.02), ("cart", 0.04), ("recommendations", 0.15), ("history", 0.3)]
"""(what, latency in seconds) of each backend call."""


async def lookup(user: str, what: str, latency: float) -> str:
    await asyncio.sleep(latency)  # the backend's round trip
    cache[f"{user}:{what}"] = f"{what} of {user}"
    return cache[f"{user}:{what}"]


async def build_page(user: str, context: Any) -> None:
    loop = asyncio.get_running_loop()
    tasks = [loop.create_task(lookup(user, what, t), name=f"lookup {what}") for what, t in LOOKUPS]
    everything = asyncio.gather(*tasks)
    profile, cart = await asyncio.gather(*tasks[:2])
    context.succeed({"profile": profile, "cart": cart})  # the page needs no more
    await everything  # the slow half: frozen here after succeed()
    print(f"cache warmed for {user}")


def handler(event: dict[str, Any], context: Any) -> None:
    asyncio.get_event_loop().create_task(build_page(event.get("user", "ada"), context))
