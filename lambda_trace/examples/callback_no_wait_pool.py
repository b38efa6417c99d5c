"""The article author's fix: `callbackWaitsForEmptyEventLoop = False` to keep a DB connection pool.

What bites: with the flag false, `callback()` answers at once, so the pool's open socket no longer
holds the response (with the default flag it would, until the function timed out) — but
everything else still pending is frozen too. The audit entry started just before the callback is
only written after the thaw, inside the next invocation.

What the trace shows: `respond.post` with `held_ns` 0 right after the 60 ms UPDATE; the
`write_audit` task pending at the freeze finishes in invocation 2, logging there
(`pending_at_freeze`, `crossed_invocation`); the pooled socket (`io` work created in invocation 1)
is idle at every freeze and reused by the next invocation (`kept_alive`).

Fix: keep the flag false for the pool, but `await` every write before calling back (or use an
`async def` handler, which never waits for the loop either).
"""

import asyncio
import socket
from collections import deque
from collections.abc import Callable
from typing import Any


class FakeDatabase:
    """The database at the far end of a socket pair; it answers each statement 60 ms later."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def receive(self) -> None:
        self.sock.recv(4096)
        asyncio.get_event_loop().call_later(0.06, self.answer)

    def answer(self) -> None:
        self.sock.sendall(b"OK\n")


class Connection:
    """A minimal DB driver: one socket, watched by the loop for the server's replies."""

    def __init__(self) -> None:
        self.sock, server = socket.socketpair()
        self.sock.setblocking(False)
        self.db = FakeDatabase(server)
        # Statements are pipelined on the one socket; the replies come back in order.
        self.waiting: deque[asyncio.Future[bytes]] = deque()
        asyncio.get_event_loop().add_reader(self.sock.fileno(), self._on_readable)

    def _on_readable(self) -> None:
        for line in self.sock.recv(4096).splitlines():
            self.waiting.popleft().set_result(line)

    async def execute(self, sql: str) -> bytes:
        reply = asyncio.get_running_loop().create_future()
        self.waiting.append(reply)
        self.sock.sendall(sql.encode())
        self.db.receive()
        return bytes(await reply)


class Pool:
    """One connection, opened on first use and kept for every warm invocation."""

    def __init__(self) -> None:
        self.conn: Connection | None = None

    def acquire(self) -> Connection:
        if self.conn is None:
            self.conn = Connection()
        return self.conn


pool = Pool()


async def write_audit(order: int) -> None:
    await asyncio.sleep(0.05)  # a 50 ms call to the audit service
    print(f"audit entry for order {order} written")


async def handle_order(order: int, callback: Callable[..., None]) -> None:
    conn = pool.acquire()
    await conn.execute(f"UPDATE orders SET status = 'paid' WHERE id = {order}")
    # The audit entry "can finish in the background": nobody awaits it.
    asyncio.get_running_loop().create_task(write_audit(order))
    callback(None, {"order": order, "status": "paid"})


def handler(event: dict[str, Any], context: Any, callback: Callable[..., None]) -> None:
    # As in the article: don't let the pool's open socket hold every response.
    context.callbackWaitsForEmptyEventLoop = False
    asyncio.get_event_loop().create_task(handle_order(event.get("order", 0), callback))
