"""A callback handler whose DB client keeps its connection open (the classic Lambda timeout).

What bites: the client connects lazily and keeps the socket for reuse. The loop watches that
socket, so Node's event loop is never empty; with `callbackWaitsForEmptyEventLoop` true the
response waits for an empty loop that never comes: `Task timed out`, every time, and every time
the environment is killed and the next invocation cold-starts (so the "reused" connection never is).

What the trace shows: the query finishes, `respond.call` comes right after, then nothing until
`respond.post` with `Sandbox.Timedout`; `held_by` names the `io` work of the socket, which is also
in `env.shutdown.lost`: `timeout_keepalive`.

Fix: set `context.callbackWaitsForEmptyEventLoop = False` (see `callback_no_wait_pool.py` for what
that costs), close the connection before calling back, or use an `async def` handler.
"""

import asyncio
import socket
from collections.abc import Callable
from typing import Any


class DbClient:
    """A minimal DB driver on a socket pair; the far end plays the database."""

    def __init__(self) -> None:
        self.sock, self.server = socket.socketpair()
        self.sock.setblocking(False)
        self.reply: asyncio.Future[bytes] | None = None
        # The driver watches its socket for server messages for as long as it is connected.
        asyncio.get_event_loop().add_reader(self.sock.fileno(), self._on_readable)

    def _on_readable(self) -> None:
        data = self.sock.recv(4096)
        if self.reply is not None and not self.reply.done():
            self.reply.set_result(data)

    def _server_answers(self) -> None:
        self.server.recv(4096)
        self.server.sendall(b'[{"id": 1, "name": "Ada"}]')

    async def query(self, sql: str) -> bytes:
        self.reply = asyncio.get_running_loop().create_future()
        self.sock.sendall(sql.encode())
        asyncio.get_running_loop().call_later(0.04, self._server_answers)  # 40 ms round trip
        return bytes(await self.reply)


client: DbClient | None = None


async def load_users(callback: Callable[..., None]) -> None:
    global client
    if client is None:
        client = DbClient()
    rows = await client.query("SELECT id, name FROM users")
    callback(None, {"users": rows.decode()})


def handler(event: dict[str, Any], context: Any, callback: Callable[..., None]) -> None:
    asyncio.get_event_loop().create_task(load_users(callback))
