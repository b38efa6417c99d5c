"""Deterministic synthetic traces for benchmarks: realistic mixes of work, a few percent leaked.

`python tests/benchmarks/synth.py OUT.jsonl [EVENTS] [INVOCATIONS] [SEED]` writes one; the same
arguments always give the same bytes. Event sequences follow docs/EVENTS.md.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path
from typing import Any

from lambda_trace.model.writer import TraceWriter

MS = 1_000_000
HEADER = {
    "profile": "node",
    "handler": "synth/app.py:handler",
    "clock": "virtual",
    "options": {"synthetic": True},
    "tool": "lambda-trace synth",
}
SITES = [f"app/{m}.py:{line}" for m in ("handler", "db", "metrics", "cache") for line in (12, 40)]
NAMES = {
    "task": ["fetch_user", "write_audit", "enrich", "gather_part"],
    "timer": ["flush_metrics", "retry", "heartbeat"],
    "callback": ["resolve", "on_done"],
    "thread": ["uploader"],
    "executor": ["hash_blob"],
    "io": ["pg socket"],
}
LEAK_RATE = 0.03
"""Share of timers and tasks left pending at the freeze (they run after the thaw)."""


class Synth:
    """Writes one trace; `ts` only moves forward."""

    def __init__(self, path: Path, seed: int) -> None:
        self.rng = random.Random(seed)
        self.w = TraceWriter(path, HEADER)
        self.ts = 0
        self.count = 0
        self.next_work = 1
        self.env = 0
        self.leaked: list[int] = []
        self.request_id = ""

    def emit(self, kind: str, inv: int | None, **fields: Any) -> None:
        self.ts += self.rng.randrange(2_000, 200_000)
        self.w.emit(kind, inv, fields, ts=self.ts)
        self.count += 1

    def create(self, inv: int, type: str, role: str | None = None, **extra: Any) -> int:
        work = self.next_work
        self.next_work += 1
        site = self.rng.choice(SITES)
        name = "handler main" if role == "handler" else self.rng.choice(NAMES[type])
        fields: dict[str, Any] = {"parent": None, "type": type, "name": name, "site": site}
        fields |= {"stack": [f"{site} in handler"], "created_in": inv, **extra}
        if role:
            fields["role"] = role
        self.emit("work.create", inv, work=work, **fields)
        return work

    def step(self, inv: int, work: int, logs: int = 0) -> None:
        self.emit("work.begin", inv, work=work)
        for i in range(logs):
            text = f"step {i} of work {work}"
            self.emit("log", inv, stream="stdout", text=text, request_id=self.request_id, work=work)
        self.emit("work.end", inv, work=work)

    def cold_start(self, inv: int) -> int:
        self.env += 1
        self.emit("env.init.start", 0, env=self.env)
        pool = self.create(0, "io")
        self.step(0, pool)
        self.emit("env.init.end", 0, env=self.env, ok=True, duration_ns=5 * MS)
        return pool

    def invocation(self, inv: int, budget: int, cold: bool, pool: int) -> None:
        rng = self.rng
        old_request = self.request_id
        self.request_id = f"req-{inv:08d}"
        start = self.count
        self.emit(
            "invoke.start", inv, request_id=self.request_id, env=self.env, cold=cold,
            deadline_ns=self.ts + 3000 * MS, event_size=64, event_sha256="0" * 64,
        )  # fmt: skip
        if not cold:
            frozen = rng.randrange(100 * MS, 2000 * MS)
            self.ts += frozen
            self.w.emit("env.thaw", inv, {"frozen_ns": frozen}, ts=self.ts)
            self.count += 1
            for work in self.leaked:  # overdue timers first, logging under the old request id
                self.emit("work.begin", inv, work=work)
                self.emit(
                    "log", inv, stream="stdout", text="late", request_id=old_request, work=work
                )
                self.emit("work.end", inv, work=work)
                self.emit("work.done", inv, work=work, status="ok")
        self.leaked = []
        began = self.ts
        handler = self.create(inv, "task", role="handler")
        self.step(inv, handler, logs=1)
        self.step(inv, pool)
        pending: list[int] = []
        while self.count - start < budget - 12:
            kind = rng.choices(list(NAMES)[:5], weights=[50, 25, 10, 5, 10])[0]
            extra = {"delay_ns": rng.randrange(1 * MS, 50 * MS)} if kind == "timer" else {}
            work = self.create(inv, kind, **extra)
            if kind in ("timer", "task") and rng.random() < LEAK_RATE:
                pending.append(work)
                continue
            for _ in range(1 if kind in ("timer", "callback") else rng.randrange(1, 4)):
                self.step(inv, work, logs=rng.randrange(0, 2))
            if kind == "task" and rng.random() < 0.02:
                self.emit("work.cancel", inv, work=work)
                self.emit("work.done", inv, work=work, status="cancelled")
            else:
                self.emit("work.done", inv, work=work, status="ok")
        self.step(inv, handler)
        self.emit("work.done", inv, work=handler, status="ok")
        self.emit("respond.call", inv, via="return", status="success")
        self.emit("respond.post", inv, via="return", status="success", held_ns=0)
        took = self.ts - began
        self.emit(
            "invoke.end", inv, request_id=self.request_id, outcome="success", duration_ns=took
        )
        self.emit("env.freeze", inv, pending=[pool, *pending])
        self.leaked = pending

    def close(self, inv: int, pool: int) -> None:
        self.emit("env.shutdown", inv, reason="end", lost=[pool, *self.leaked])
        self.w.close()


def write_synthetic(path: Path, events: int = 1_000_000, invocations: int = 2000, seed: int = 1):
    """Write a trace of about `events` events over `invocations` invocations; returns the count."""
    s = Synth(path, seed)
    per = max(30, events // invocations)
    pool = s.cold_start(1)
    for inv in range(1, invocations + 1):
        s.invocation(inv, per, cold=inv == 1, pool=pool)
    s.close(invocations, pool)
    return s.count + 1


if __name__ == "__main__":
    args = sys.argv[1:]
    out = Path(args[0] if args else "synthetic.jsonl")
    n = write_synthetic(out, *(int(a) for a in args[1:4]))
    print(f"{out}: {n:,} events")
