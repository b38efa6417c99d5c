"""Record small handlers written inline and look at the events they produce."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from lambda_trace.model.reader import read_events
from lambda_trace.runtime.invocation import InvokeResult
from lambda_trace.runtime.supervisor import Environment

# Kinds that carry the semantics of a row; work.begin/end are left out unless asked for.
SHAPE_KINDS = {
    "env.init.start", "env.init.end", "invoke.start", "invoke.end", "respond.call",
    "respond.post", "env.freeze", "env.thaw", "env.shutdown", "error",
}  # fmt: skip


class Recording:
    def __init__(self, events: list[dict[str, Any]], results: list[InvokeResult]) -> None:
        self.events = events
        self.results = results

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["kind"] == kind]

    def shape(self, kinds: set[str] = SHAPE_KINDS) -> list[str]:
        """`kind@inv` for each event of interest, in order."""
        return [f"{e['kind']}@{e['inv']}" for e in self.events if e["kind"] in kinds]

    def work_named(self, name: str) -> dict[str, Any]:
        (found,) = [e for e in self.of("work.create") if e["name"] == name]
        return found

    def work_named_first(self, name: str) -> int:
        return next(e["work"] for e in self.of("work.create") if e["name"] == name)

    def ran_in(self, work: int) -> list[int]:
        return sorted({e["inv"] for e in self.of("work.begin") if e["work"] == work})

    def between(self, first: str, last: str) -> list[str]:
        """Kinds strictly between the first `first` event and the next `last` event."""
        kinds = [e["kind"] for e in self.events]
        i = kinds.index(first)
        j = kinds.index(last, i + 1)
        return kinds[i + 1 : j]


def record(
    tmp_path: Path,
    source: str,
    events: list[Any] | int = 2,
    *,
    function: str = "handler",
    isolate: bool = False,
    **options: Any,
) -> Recording:
    """Write `source` as a handler module, run it in the emulator, and read the trace back."""
    handler_file = tmp_path / "app.py"
    handler_file.write_text(textwrap.dedent(source))
    output = tmp_path / "trace.jsonl"
    options.setdefault("clock", "virtual")
    options.setdefault("seed", 1)
    env = Environment(f"{handler_file}:{function}", output=output, isolate=isolate, **options)
    payloads = [{"n": i} for i in range(events)] if isinstance(events, int) else events
    results = [env.invoke(p) for p in payloads]
    env.shutdown("end")
    _, evs, diagnostics = read_events(output, strict=True)
    assert diagnostics == []
    return Recording(evs, results)
