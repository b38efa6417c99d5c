"""Small traces written with TraceWriter in the exact event order of docs/EVENTS.md."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lambda_trace.model.reader import read_events
from lambda_trace.model.writer import TraceWriter

HEADER: dict[str, Any] = {
    "profile": "node",
    "handler": "app.py:handler",
    "clock": "virtual",
    "options": {"freeze_for_ns": 1_000_000_000},
    "tool": "lambda-trace 0.1.0",
}
MS = 1_000_000
WEIRD = 'tick "quoted" \\ </script> <b>[bold]</b>\n\t\u2028 é 🚀 \x00'
"""A name with every character that could break JSON or be taken for markup."""


class Builder:
    """Emits events with explicit timestamps; `t` advances by `step` ns unless told otherwise."""

    def __init__(self, path: Path, header: dict[str, Any] | None = None) -> None:
        self.writer = TraceWriter(path, header or HEADER)
        self.path = path
        self.t = 0
        self.work_id = 0

    def at(self, ts: int) -> Builder:
        self.t = ts
        return self

    def emit(self, kind: str, inv: int | None, advance: int = MS, **fields: Any) -> None:
        self.t += advance
        self.writer.emit(kind, inv, fields, ts=self.t)

    def create(
        self,
        inv: int,
        type_: str,
        name: str,
        parent: int | None,
        line: int,
        *,
        role: str | None = None,
        delay_ns: int | None = None,
    ) -> int:
        self.work_id += 1
        fields: dict[str, Any] = {
            "work": self.work_id,
            "parent": parent,
            "type": type_,
            "name": name,
            "site": f"app.py:{line}",
            "stack": [f"app.py:{line} in handler"],
            "created_in": inv,
        }
        if role:
            fields["role"] = role
        if delay_ns is not None:
            fields["delay_ns"] = delay_ns
        self.emit("work.create", inv, advance=0, **fields)
        return self.work_id

    def step(self, inv: int, work: int, dur: int = MS) -> None:
        self.emit("work.begin", inv, work=work)
        self.emit("work.end", inv, advance=dur, work=work)

    def init(self, env: int) -> None:
        self.init_start(env)
        self.init_end(env)

    def init_start(self, env: int) -> None:
        self.emit("env.init.start", 0, env=env)

    def init_end(self, env: int) -> None:
        self.emit("env.init.end", 0, env=env, ok=True, duration_ns=MS)

    def invoke_start(self, inv: int, env: int, cold: bool) -> None:
        self.emit(
            "invoke.start",
            inv,
            request_id=f"req-{inv}",
            env=env,
            cold=cold,
            deadline_ns=self.t + 3000 * MS,
            event_size=2,
            event_sha256="ab" * 32,
        )

    def close(self) -> Path:
        self.writer.close()
        return self.path


def leak_trace(path: Path) -> Path:
    """Two environments: a timer leaks across a freeze and logs with the old request id; a held
    response; a timeout resets the environment; the next invocation is a cold start in env 2."""
    b = Builder(path)
    b.init_start(1)
    module_task = b.create(0, "task", "warm_pool", None, 3)
    b.step(0, module_task)
    b.emit("work.done", 0, work=module_task, status="ok")
    b.init_end(1)

    # Invocation 1: the handler sets a timer and answers with context.succeed.
    b.invoke_start(1, env=1, cold=True)
    handler = b.create(1, "task", "handler handler", None, 10, role="handler")
    b.emit("work.begin", 1, work=handler)
    timer = b.create(1, "timer", WEIRD, handler, 12, delay_ns=500 * MS)
    child = b.create(1, "task", "flush", handler, 13)
    b.emit("respond.call", 1, via="succeed", status="success", work=handler)
    b.emit("work.end", 1, work=handler)
    b.emit("work.done", 1, advance=0, work=handler, status="ok")
    b.emit("respond.post", 1, via="succeed", status="success", held_ns=0)
    b.emit("invoke.end", 1, advance=0, request_id="req-1", outcome="success", duration_ns=5 * MS)
    b.step(1, child)
    b.emit("env.freeze", 1, pending=[timer, child])

    # Invocation 2, warm: the thaw; the timer fires first, logs under req-1, and its child errors.
    b.emit("invoke.start", 2, advance=1000 * MS, request_id="req-2", env=1, cold=False,
           deadline_ns=b.t + 3000 * MS, event_size=2, event_sha256="cd" * 32)  # fmt: skip
    b.emit("env.thaw", 2, advance=0, frozen_ns=1000 * MS)
    b.emit("work.begin", 2, work=timer)
    b.emit("log", 2, stream="stdout", text="metrics <flushed>", request_id="req-1", work=timer)
    grandchild = b.create(2, "callback", "retry", timer, 14)
    b.emit("work.end", 2, work=timer)
    b.emit("work.done", 2, advance=0, work=timer, status="ok")
    b.step(2, child)
    b.emit("work.done", 2, advance=0, work=child, status="ok")
    handler2 = b.create(2, "task", "handler handler", None, 10, role="handler")
    b.emit("work.begin", 2, work=handler2)
    interval = b.create(2, "timer", "keepalive", handler2, 20, delay_ns=10 * MS)
    b.emit("respond.call", 2, via="callback", status="success", work=handler2)
    b.emit("work.end", 2, work=handler2)
    b.emit("work.done", 2, advance=0, work=handler2, status="ok")
    b.step(2, grandchild)
    b.emit("work.done", 2, advance=0, work=grandchild, status="error",
           error_type="ValueError", error_message="bad <retry>")  # fmt: skip
    b.emit("error", 2, type="ValueError", message="bad <retry>", work=grandchild, billed=2)
    b.step(2, interval)
    b.emit("work.done", 2, advance=0, work=interval, status="ok")
    b.emit("respond.post", 2, via="callback", status="success", held_ns=3 * MS, held_by=[interval])
    b.emit("invoke.end", 2, advance=0, request_id="req-2", outcome="success", duration_ns=9 * MS)
    b.emit("mark", 2, label="after response", data={"k": 1})
    b.emit("env.freeze", 2, pending=[])

    # Invocation 3 times out: a socket keeps the loop busy; env 1 is reset.
    b.emit("invoke.start", 3, advance=500 * MS, request_id="req-3", env=1, cold=False,
           deadline_ns=b.t + 3000 * MS, event_size=2, event_sha256="ef" * 32)  # fmt: skip
    b.emit("env.thaw", 3, advance=0, frozen_ns=500 * MS)
    handler3 = b.create(3, "task", "handler handler", None, 10, role="handler")
    b.emit("work.begin", 3, work=handler3)
    sock = b.create(3, "io", "db socket", handler3, 30)
    b.emit("respond.call", 3, via="callback", status="success", work=handler3)
    b.emit("work.end", 3, work=handler3)
    b.emit("work.done", 3, advance=0, work=handler3, status="ok")
    b.emit("work.begin", 3, work=sock)
    b.emit("work.end", 3, work=sock)
    b.emit("respond.post", 3, advance=3000 * MS, via=None, status="error", held_ns=3000 * MS,
           held_by=[sock], error_type="Sandbox.Timedout",
           error_message="Task timed out after 3.00 seconds")  # fmt: skip
    b.emit("invoke.end", 3, advance=0, request_id="req-3", outcome="timeout",
           duration_ns=3000 * MS, error_type="Sandbox.Timedout",
           error_message="Task timed out after 3.00 seconds")  # fmt: skip
    b.emit("env.shutdown", 3, advance=0, reason="timeout", lost=[sock])

    # Invocation 4: cold start in environment 2; a timer is still pending at the end of the trace.
    b.init(2)
    b.invoke_start(4, env=2, cold=True)
    handler4 = b.create(4, "task", "handler handler", None, 10, role="handler")
    b.step(4, handler4)
    pending = b.create(4, "timer", "never", handler4, 40, delay_ns=60_000 * MS)
    b.emit("work.done", 4, work=handler4, status="ok")
    b.emit("respond.post", 4, via="return", status="success", held_ns=0)
    b.emit("invoke.end", 4, advance=0, request_id="req-4", outcome="success", duration_ns=2 * MS)
    b.emit("env.freeze", 4, pending=[pending])
    b.emit("env.shutdown", 4, reason="end", lost=[pending])
    return b.close()


IDS = {"timer": 3, "child": 4, "grandchild": 5, "interval": 7, "sock": 9, "pending": 11}
"""Work ids in leak_trace, by role."""


def big_trace(path: Path, invocations: int, tasks_per_invocation: int = 8) -> tuple[Path, int]:
    """A synthetic trace: every invocation starts tasks, half of which finish in the next one.

    Returns the path and the number of events after the header.
    """
    b = Builder(path)
    b.init(1)
    carried: list[int] = []
    for n in range(1, invocations + 1):
        b.invoke_start(n, env=1, cold=n == 1)
        if n > 1:
            b.emit("env.thaw", n, advance=0, frozen_ns=MS)
        for work in carried:
            b.step(n, work)
            b.emit(
                "log", n, stream="stdout", text="late " * 4, request_id=f"req-{n - 1}", work=work
            )
            b.emit("work.done", n, advance=0, work=work, status="ok")
        handler = b.create(n, "task", "handler handler", None, 10, role="handler")
        b.emit("work.begin", n, work=handler)
        made = [
            b.create(n, "task", f"job {i}", handler, 11 + i) for i in range(tasks_per_invocation)
        ]
        b.emit("work.end", n, work=handler)
        b.emit("work.done", n, advance=0, work=handler, status="ok")
        for work in made[::2]:
            b.step(n, work)
            b.emit("work.done", n, advance=0, work=work, status="ok")
        carried = made[1::2]
        b.emit("respond.post", n, via="return", status="success", held_ns=0)
        b.emit("invoke.end", n, advance=0, request_id=f"req-{n}", outcome="success",
               duration_ns=MS)  # fmt: skip
        b.emit("env.freeze", n, pending=carried)
    b.emit("env.shutdown", invocations, reason="end", lost=carried)
    b.close()
    return path, b.writer.next_seq - 1


def events_of(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    header, events, diagnostics = read_events(path)
    assert not diagnostics
    return header, events
