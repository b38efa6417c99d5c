"""Writer and reader: round trips, thread safety, failures, and fuzzing of the tolerant reader."""

from __future__ import annotations

import gzip
import io
import threading
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lambda_trace.model.reader import TraceFormatError, TraceReader, read_events
from lambda_trace.model.writer import TraceWriter
from tests.strategies import events, json_values

HEADER = {"profile": "node", "handler": "h.py:handler", "clock": "virtual", "options": {}}
HEADER |= {"tool": "lambda-trace test"}
FIXTURE = [HealthCheck.function_scoped_fixture]


def write_trace(path: Path, evs: list[dict[str, Any]]) -> None:
    with TraceWriter(path, HEADER) as writer:
        for ev in evs:
            fields = {k: v for k, v in ev.items() if k not in ("seq", "ts", "kind", "inv")}
            writer.emit(ev["kind"], ev["inv"], fields, ts=ev["ts"])


@settings(max_examples=200, deadline=None, suppress_health_check=FIXTURE)
@given(st.lists(events(), max_size=20), st.booleans())
def test_round_trip(tmp_path: Path, evs: list[dict[str, Any]], gz: bool) -> None:
    # The writer assigns seq and keeps ts monotonic; give it inputs that already are.
    ts = 0
    for i, ev in enumerate(evs):
        ts += abs(ev["ts"]) % 1000
        ev["seq"], ev["ts"] = i + 1, ts
    path = tmp_path / ("t.jsonl.gz" if gz else "t.jsonl")
    write_trace(path, evs)
    header, back, diagnostics = read_events(path, strict=True)
    assert header["kind"] == "trace.start" and header["version"] == 1
    assert diagnostics == []
    assert back == evs


def test_writer_threads_never_interleave(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    writer = TraceWriter(path, HEADER)

    def spam(n: int) -> None:
        for i in range(2000):
            writer.emit("log", 1, {"stream": "stdout", "text": f"{n}-{i}" * 50, "request_id": None})

    threads = [threading.Thread(target=spam, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    writer.close()
    _, back, diagnostics = read_events(path, strict=True)
    assert diagnostics == [] and len(back) == 8000
    assert [e["seq"] for e in back] == list(range(1, 8001))


def test_writer_failure_is_reported_once_and_never_raises(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    writer = TraceWriter(tmp_path / "t.jsonl", HEADER)
    assert writer._file is not None
    writer._file.close()  # simulate the disk going away under the writer
    for _ in range(3):
        writer.emit("mark", 1, {"label": "x"})
        writer.flush()
    writer.close()
    err = capsys.readouterr().err
    assert err.count("cannot write trace") == 1
    assert writer.failed and writer.emit("mark", 1, {"label": "y"}) == -1


def test_writer_into_missing_directory_reports(tmp_path: Path, capsys: Any) -> None:
    writer = TraceWriter(tmp_path / "no" / "such" / "t.jsonl", HEADER)
    writer.emit("mark", 1, {"label": "x"})
    writer.close()
    assert "cannot write trace" in capsys.readouterr().err and writer.failed


def test_writer_flush_makes_events_readable_while_open(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    writer = TraceWriter(path, HEADER)
    writer.emit("env.freeze", 1, {"pending": [3]}, ts=10)
    writer.flush()
    _, back, _ = read_events(path, strict=True)
    assert back == [{"seq": 1, "ts": 10, "kind": "env.freeze", "inv": 1, "pending": [3]}]
    writer.close()


def test_unjsonable_field_is_kept_as_repr(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    with TraceWriter(path, HEADER) as writer:
        writer.emit("mark", 1, {"label": "x", "data": {"obj": object()}})
    _, back, _ = read_events(path)
    assert back[0]["data"]["obj"].startswith("<object object at")


def _header_line() -> bytes:
    return orjson.dumps(
        {"seq": 0, "ts": 0, "kind": "trace.start", "inv": None, "version": 1, **HEADER}
    )


@settings(max_examples=300, deadline=None, suppress_health_check=FIXTURE)
@given(st.binary(max_size=300))
def test_tolerant_reader_never_crashes_on_bytes(tmp_path: Path, tail: bytes) -> None:
    for body in (tail, _header_line() + b"\n" + tail):
        path = tmp_path / "t.jsonl"
        path.write_bytes(body)
        try:
            with TraceReader(path) as reader:
                list(reader)
        except TraceFormatError:
            pass
        try:
            with TraceReader(path, strict=True) as reader:
                list(reader)
        except TraceFormatError:
            pass


@settings(max_examples=300, deadline=None, suppress_health_check=FIXTURE)
@given(st.lists(json_values | events(), max_size=8))
def test_readers_on_arbitrary_json_lines(tmp_path: Path, lines: list[Any]) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(_header_line() + b"\n" + b"".join(orjson.dumps(v) + b"\n" for v in lines))
    with TraceReader(path) as reader:
        kept = list(reader)
    assert len(kept) + reader.error_count >= len(lines) - reader.error_count
    try:
        with TraceReader(path, strict=True) as reader:
            list(reader)
    except TraceFormatError as exc:
        assert exc.line >= 2


def test_truncated_gzip_keeps_what_was_readable(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb") as gz:
        gz.write(_header_line() + b"\n")
        for i in range(1, 2000):
            gz.write(orjson.dumps({"seq": i, "ts": i, "kind": "work.begin", "inv": 1, "work": i}))
            gz.write(b"\n")
    path = tmp_path / "t.jsonl.gz"
    path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    with TraceReader(path) as reader:
        kept = list(reader)
    assert reader.truncated and 0 < len(kept) < 1999
    assert "compressed stream ends early" in reader.diagnostics[-1].reason
