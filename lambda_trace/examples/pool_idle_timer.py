"""A pooled connection whose idle-timeout timer was frozen: after a long freeze it fires at the
thaw and closes the connection the next invocation was about to use.

What bites: like `pg.Pool({idleTimeoutMillis})`, the pool arms a 5 s idle timer each time a
connection is released. Frozen time still counts: after a 10 s freeze the timer is overdue and
fires right after the thaw — before the new handler runs — closing the socket. The handler cached
the connection in a module global and uses it anyway: "connection is closed", invocation 2 fails.

What the trace shows (recorded with `--freeze-for 10s`): the `Connection.idle_timeout` timer
created in invocation 1 runs in invocation 2 right after `env.thaw`, the socket's `io` work is
`done` there, and invocation 2 ends with `ConnectionClosedError`: `crossed_invocation`,
`pending_at_freeze` (the timer) and `kept_alive` (the idle socket across the first freeze).

Fix: check out a connection from the pool per invocation instead of caching it, and treat a
closed connection as "reconnect", not as an error.
"""

import asyncio
import socket
from typing import Any


class ConnectionClosedError(Exception):
    pass


class Connection:
    """A pooled DB connection on a socket pair (the far end plays the database)."""

    idle_timeout_s = 5.0

    def __init__(self) -> None:
        self.sock, self.server = socket.socketpair()
        self.sock.setblocking(False)
        self.closed = False
        self.reply: asyncio.Future[bytes] | None = None
        self.idle_timer: asyncio.TimerHandle | None = None
        asyncio.get_event_loop().add_reader(self.sock.fileno(), self._on_readable)

    def _on_readable(self) -> None:
        data = self.sock.recv(4096)
        if self.reply is not None and not self.reply.done():
            self.reply.set_result(data)

    def _server_answers(self) -> None:
        self.server.recv(4096)
        self.server.sendall(b"1 row")

    async def query(self, sql: str) -> bytes:
        if self.closed:
            raise ConnectionClosedError("connection is closed (idle timeout)")
        if self.idle_timer is not None:
            self.idle_timer.cancel()  # busy again
        loop = asyncio.get_running_loop()
        self.reply = loop.create_future()
        self.sock.sendall(sql.encode())
        loop.call_later(0.03, self._server_answers)  # 30 ms round trip
        return bytes(await self.reply)

    def release(self) -> None:
        """Back to the pool: close it if nobody uses it for `idle_timeout_s`."""
        loop = asyncio.get_running_loop()
        self.idle_timer = loop.call_later(self.idle_timeout_s, self.idle_timeout)

    def idle_timeout(self) -> None:
        print("pool: closing idle connection")
        asyncio.get_event_loop().remove_reader(self.sock.fileno())
        self.sock.close()
        self.server.close()
        self.closed = True


conn: Connection | None = None  # cached across invocations: the bug


async def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    global conn
    if conn is None:
        conn = Connection()
    try:
        rows = await conn.query(f"SELECT * FROM stock WHERE sku = '{event.get('sku', 'A1')}'")
    except ConnectionClosedError:
        conn = None  # the next invocation reconnects; this one has failed
        raise
    conn.release()
    return {"rows": rows.decode()}
