"""Hand-written traces for model tests: a builder that keeps the clock and invocation for you."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lambda_trace.model.writer import TraceWriter

MS = 1_000_000
S = 1_000_000_000
HEADER = {"profile": "node", "handler": "app.py:handler", "clock": "virtual", "options": {}}
HEADER |= {"tool": "lambda-trace test"}


class TraceBuilder:
    """Builds the event sequences of docs/EVENTS.md; `write()` writes them with `TraceWriter`."""

    def __init__(self) -> None:
        self.events: list[tuple[str, int | None, dict[str, Any], int]] = []
        self.ts = 0
        self.inv: int | None = None
        self.env = 0
        self.next_work = 1

    def at(self, ts: int) -> TraceBuilder:
        self.ts = ts
        return self

    def wait(self, ns: int) -> TraceBuilder:
        self.ts += ns
        return self

    def emit(self, kind: str, **fields: Any) -> TraceBuilder:
        inv = fields.pop("inv", self.inv)
        self.events.append((kind, inv, fields, self.ts))
        return self

    # -- lifecycle -------------------------------------------------------------------------------

    def init(self, work: list[tuple[str, str]] | None = None) -> TraceBuilder:
        self.env += 1
        self.inv = 0
        self.emit("env.init.start", env=self.env)
        return self

    def init_end(self, ok: bool = True) -> TraceBuilder:
        return self.emit("env.init.end", env=self.env, ok=ok, duration_ns=0)

    def invoke(self, index: int, *, cold: bool = False) -> TraceBuilder:
        self.inv = index
        return self.emit(
            "invoke.start",
            request_id=f"req-{index}",
            env=self.env,
            cold=cold,
            deadline_ns=self.ts + 3 * S,
            event_size=2,
            event_sha256="0" * 64,
        )

    def handler(self) -> int:
        return self.create("task", "handler main", "app.py:1", role="handler")

    def respond(self, via: str = "return", *, held_ns: int = 0, held_by: list[int] | None = None,
                post_via: str | None = "", status: str = "success") -> TraceBuilder:  # fmt: skip
        self.emit("respond.call", via=via, status=status, accepted=True)
        self.wait(held_ns)
        self.emit(
            "respond.post",
            via=via if post_via == "" else post_via,
            status=status,
            held_ns=held_ns,
            held_by=held_by or [],
        )
        return self

    def end(self, outcome: str = "success", **fields: Any) -> TraceBuilder:
        assert self.inv is not None
        return self.emit(
            "invoke.end", request_id=f"req-{self.inv}", outcome=outcome, duration_ns=0, **fields
        )

    def freeze(self, *pending: int) -> TraceBuilder:
        return self.emit("env.freeze", pending=list(pending))

    def thaw(self, index: int, frozen_ns: int) -> TraceBuilder:
        self.wait(frozen_ns)
        self.invoke(index)
        return self.emit("env.thaw", frozen_ns=frozen_ns)

    def shutdown(self, reason: str = "end", *lost: int, **fields: Any) -> TraceBuilder:
        return self.emit("env.shutdown", reason=reason, lost=list(lost), **fields)

    # -- work ------------------------------------------------------------------------------------

    def create(self, type: str, name: str, site: str = "app.py:10", **fields: Any) -> int:
        work = self.next_work
        self.next_work += 1
        fields.setdefault("parent", None)
        fields.setdefault("stack", [f"{site} in handler"])
        fields.setdefault("created_in", self.inv)
        self.emit("work.create", work=work, type=type, name=name, site=site, **fields)
        return work

    def step(self, work: int, ns: int = 0) -> TraceBuilder:
        self.emit("work.begin", work=work)
        self.wait(ns)
        return self.emit("work.end", work=work)

    def done(self, work: int, status: str = "ok", **fields: Any) -> TraceBuilder:
        return self.emit("work.done", work=work, status=status, **fields)

    def cancel(self, work: int, reason: str | None = None) -> TraceBuilder:
        fields = {} if reason is None else {"reason": reason}
        return self.emit("work.cancel", work=work, **fields)

    def log(self, work: int | None, text: str, request_id: str | None) -> TraceBuilder:
        return self.emit("log", stream="stdout", text=text, request_id=request_id, work=work)

    def error(self, work: int | None, billed: int | None, fatal: bool = False) -> TraceBuilder:
        return self.emit(
            "error", type="TypeError", message="boom", work=work, billed=billed, fatal=fatal
        )

    def write(self, path: Path, header: dict[str, Any] | None = None) -> Path:
        with TraceWriter(path, header or HEADER) as writer:
            for kind, inv, fields, ts in self.events:
                writer.emit(kind, inv, fields, ts=ts)
        return path
