"""Both exporters stream: peak memory stays far below holding the trace's events as dicts."""

from __future__ import annotations

import gc
import io
import json
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lambda_trace.model.export_otlp import export_otlp
from lambda_trace.model.export_perfetto import export_perfetto
from lambda_trace.model.reader import TraceReader
from tests.export.perfetto_rules import check_document
from tests.export.scenarios import big_trace


class Sink(io.RawIOBase):
    """Counts bytes and keeps a short head, so the output does not count as held memory."""

    def __init__(self) -> None:
        self.size = 0
        self.lines = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.size += len(data)
        self.lines += bytes(data).count(b"\n")
        return len(data)


def peak_bytes(run: Callable[[], object]) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    return big_trace(tmp_path_factory.mktemp("big") / "big.jsonl", invocations=1200)


def held_as_dicts(path: Path) -> int:
    def load() -> None:
        with TraceReader(path) as reader:
            events = list(reader)
            assert events

    return peak_bytes(load)


@pytest.mark.parametrize("fmt", ["perfetto", "otlp"])
def test_memory_stays_bounded(big: tuple[Path, int], fmt: str) -> None:
    path, count = big
    assert count > 50_000
    sink = Sink()

    def export() -> None:
        with TraceReader(path) as reader:
            if fmt == "perfetto":
                stats = export_perfetto(reader.header, reader, sink)
            else:
                stats = export_otlp(reader.header, reader, sink)
            assert stats.events == count

    exported = peak_bytes(export)
    assert sink.size > 5_000_000
    if fmt == "otlp":
        assert sink.lines == 1200 + 1  # one per invocation and the INIT phase
    # Holding every event as a dict costs ~620 B each; streaming holds a few open units.
    assert exported < held_as_dicts(path) / 10


def test_big_perfetto_output_is_valid(big: tuple[Path, int], tmp_path: Path) -> None:
    path, _ = big
    out = tmp_path / "big.json"
    with TraceReader(path) as reader, open(out, "wb") as f:
        export_perfetto(reader.header, reader, f)
    events = check_document(json.loads(out.read_bytes()))
    assert sum(e["ph"] == "s" for e in events) == 1199 * 4  # half of 8 jobs cross, per freeze


def test_work_named_after_creation_is_renamed_in_both_formats(tmp_path: Path) -> None:
    from lambda_trace.runtime.supervisor import Environment

    app = tmp_path / "app.py"
    app.write_text(
        "import asyncio\n\n"
        "async def save():\n    await asyncio.sleep(0.01)\n\n"
        "def handler(event, context):\n"
        "    asyncio.get_event_loop().create_task(save(), name='save-order')\n"
        "    context.succeed('ok')\n"
    )
    trace = tmp_path / "t.jsonl"
    env = Environment(f"{app}:handler", output=trace, deterministic=True, isolate=False)
    env.invoke({})
    env.invoke({})
    env.shutdown()
    out = io.BytesIO()
    with TraceReader(trace) as reader:
        export_perfetto(reader.header, reader, out)
    names = [
        e["args"]["name"]
        for e in json.loads(out.getvalue())["traceEvents"]
        if e.get("ph") == "M" and e["name"] == "thread_name"
    ]
    assert any("save-order" in n for n in names)
    out = io.BytesIO()
    with TraceReader(trace) as reader:
        export_otlp(reader.header, reader, out)
    assert b"save-order" in out.getvalue()
