"""The one-pass loader: same diagnostics as TraceReader, lazy events, progress, errors."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lambda_trace.model import TraceFormatError, TraceReader, build_report, load_trace, render_text
from lambda_trace.model.trace import KINDS
from tests.model.builder import MS, S, TraceBuilder
from tests.strategies import events, json_values

FIXTURE = [HealthCheck.function_scoped_fixture]
HEADER = {
    "seq": 0, "ts": 0, "kind": "trace.start", "inv": None, "version": 1, "profile": "node",
    "handler": "h.py:handler", "clock": "virtual", "options": {}, "tool": "test",
}  # fmt: skip


View = tuple[list[Any], list[tuple[int, int, str, int]]]


def reader_view(path: Path, max_line: int) -> View:
    with TraceReader(path, max_line=max_line) as reader:
        kept = []
        for _line, offset, e in reader.iter_with_lines():
            kind = e["kind"] if e["kind"] in KINDS else "?"
            kept.append((offset, e["ts"], kind, -1 if e["inv"] is None else e["inv"]))
        return list(reader.diagnostics), kept


def loader_view(path: Path, max_line: int) -> View:
    trace = load_trace(path, max_line=max_line)
    c = trace.events
    kinds = [c.kind_name(i) for i in range(len(c))]
    return list(trace.diagnostics), list(zip(c.offset, c.ts, kinds, c.inv, strict=True))


line_values = json_values | events() | st.just("") | st.just("{bad json") | st.text(max_size=400)


@settings(max_examples=400, deadline=None, suppress_health_check=FIXTURE)
@given(
    st.lists(line_values, max_size=10),
    st.booleans(),
    st.sampled_from([180, 300, 8 * 1024 * 1024]),
)
def test_loader_diagnostics_equal_the_readers(
    tmp_path: Path, values: list[Any], newline_at_end: bool, max_line: int
) -> None:
    body = [orjson.dumps(HEADER)]
    for v in values:
        body.append(v.encode() if isinstance(v, str) else orjson.dumps(v))
    data = b"\n".join(body) + (b"\n" if newline_at_end else b"")
    path = tmp_path / "t.jsonl"
    path.write_bytes(data)
    assert loader_view(path, max_line) == reader_view(path, max_line)


@settings(max_examples=200, deadline=None, suppress_health_check=FIXTURE)
@given(st.binary(max_size=400))
def test_loader_on_arbitrary_bytes_after_the_header(tmp_path: Path, tail: bytes) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(orjson.dumps(HEADER) + b"\n" + tail)
    assert loader_view(path, 180) == reader_view(path, 180)


def test_long_line_across_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lambda_trace.model import load

    monkeypatch.setattr(load, "CHUNK", 7)
    ev = orjson.dumps({"seq": 1, "ts": 1, "kind": "mark", "inv": 1, "label": "x" * 300})
    ok = orjson.dumps({"seq": 2, "ts": 2, "kind": "mark", "inv": 1, "label": "y"})
    path = tmp_path / "t.jsonl"
    path.write_bytes(orjson.dumps(HEADER) + b"\n" + ev + b"\n" + ok + b"\n" + ev)
    assert loader_view(path, 200) == reader_view(path, 200)
    assert len(load_trace(path, max_line=200).diagnostics) == 2


def test_not_a_trace_raises(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text("hello\n")
    with pytest.raises(TraceFormatError, match="not a lambda-trace trace"):
        load_trace(path)
    with pytest.raises(TraceFormatError, match="no such file"):
        load_trace(tmp_path / "missing.jsonl")


def sample(tmp_path: Path, name: str = "t.jsonl") -> Path:
    b = TraceBuilder()
    b.init().init_end().invoke(1, cold=True)
    h = b.handler()
    t = b.create("timer", "tick", delay_ns=S)
    b.step(h, MS).respond().end().done(h).freeze(t)
    b.thaw(2, S).step(t).done(t).log(t, "late", "req-1")
    return b.write(tmp_path / name)


@pytest.mark.parametrize("name", ["t.jsonl", "t.jsonl.gz"])
def test_columns_and_lazy_events(tmp_path: Path, name: str) -> None:
    path = sample(tmp_path, name)
    if name.endswith(".gz"):
        with gzip.open(path) as fh:
            assert fh.read(1) == b"{"
    trace = load_trace(path)
    cols = trace.events
    assert len(cols) == 18
    kinds = [cols.kind_name(i) for i in range(len(cols))]
    assert kinds[:3] == ["env.init.start", "env.init.end", "invoke.start"]
    assert set(kinds) <= set(KINDS)
    last = cols.event(len(cols) - 1)
    assert last["kind"] == "log" and last["text"] == "late"
    assert cols.work[len(cols) - 1] == last["work"]
    assert cols.event(2)["request_id"] == "req-1"
    assert cols.inv[0] == 0 and cols.work[0] == -1
    assert cols.index_at(trace.end_ns) <= len(cols) - 1
    assert trace.start_ns == 0 and trace.end_ns == cols.ts[len(cols) - 1]
    trace.close()


def test_progress_reports_the_end(tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    path = sample(tmp_path)
    load_trace(path, progress=lambda done, total: calls.append((done, total)))
    size = path.stat().st_size
    assert calls and calls[-1] == (size, size)


def test_bad_lines_are_diagnosed_and_skipped(tmp_path: Path) -> None:
    path = sample(tmp_path)
    lines = path.read_bytes().split(b"\n")
    lines.insert(3, b"{not json")
    path.write_bytes(b"\n".join(lines)[:-1])
    trace = load_trace(path)
    assert [(d.line, d.severity) for d in trace.diagnostics] == [(4, "error"), (20, "warning")]
    assert "invalid JSON" in trace.diagnostics[0].reason
    assert trace.diagnostics[1].reason == "last line has no newline"
    assert [f.category for f in trace.findings] == [
        "pending_at_freeze", "crossed_invocation", "log_misattributed",
    ]  # fmt: skip


def test_invocation_fields(tmp_path: Path) -> None:
    trace = load_trace(sample(tmp_path))
    one, two = trace.invocations
    assert (one.index, one.request_id, one.cold, one.env) == (1, "req-1", True, 1)
    assert one.outcome == "success" and one.response_via == "return"
    assert one.respond_call_ns == one.respond_post_ns == one.end_ns
    assert one.freeze_ns is not None and one.thaw_ns == one.freeze_ns + S
    assert one.last_ns == one.freeze_ns
    assert two.cold is False and two.outcome is None
    assert trace.invocation(2) is two
    assert trace.work(one.handler_work or -1).role == "handler"


@settings(max_examples=150, deadline=None, suppress_health_check=FIXTURE)
@given(
    st.lists(
        events(
            kinds=[
                "env.init.start", "invoke.start", "env.thaw", "env.freeze", "env.shutdown",
                "work.create", "work.begin", "work.end", "work.done", "work.cancel", "work.ref",
                "respond.call", "respond.post", "invoke.end", "log", "error",
            ]
        ),
        max_size=40,
    )
)  # fmt: skip
def test_any_valid_events_load_analyse_and_report(
    tmp_path: Path, evs: list[dict[str, Any]]
) -> None:
    # Small ids so events refer to each other: the analysis must not crash on any combination.
    for i, ev in enumerate(evs):
        ev["seq"], ev["ts"] = i + 1, i * 10
        for key in ("work", "inv", "created_in", "billed", "parent", "env"):
            if isinstance(ev.get(key), int):
                ev[key] %= 4
        for key in ("pending", "lost", "held_by"):
            if key in ev:
                ev[key] = [x % 4 for x in ev[key]]
    path = tmp_path / "t.jsonl"
    path.write_bytes(b"".join(orjson.dumps(x) + b"\n" for x in [HEADER, *evs]))
    trace = load_trace(path)
    assert len(trace.events) == len(evs)
    report = build_report(trace)
    assert len(report["findings"]) == len(trace.findings)
    render_text(trace)
    for w in trace.works:
        w.segments(trace.freezes, trace.end_ns)


def test_numbers_beyond_64_bits_do_not_break_the_columns(tmp_path: Path) -> None:
    huge = 2**63 + 5
    lines = [
        HEADER,
        {"seq": 1, "ts": 1, "kind": "work.create", "inv": 1, "work": huge, "parent": None,
         "type": "task", "name": "x", "site": "a:1", "stack": [], "created_in": 1},
        {"seq": 2, "ts": 2, "kind": "work.begin", "inv": 1, "work": huge},
        {"seq": 3, "ts": 3, "kind": "mark", "inv": huge, "label": "m"},
        {"seq": 4, "ts": 4, "kind": "work.begin", "inv": 1, "work": 7},
    ]  # fmt: skip
    path = tmp_path / "t.jsonl"
    path.write_bytes(b"".join(orjson.dumps(x) + b"\n" for x in lines))
    trace = load_trace(path)
    c = trace.events
    assert len(c) == len(c.ts) == len(c.kind) == len(c.inv) == len(c.work) == len(c.offset) == 4
    assert [d.line for d in trace.diagnostics] == [2, 3, 4]
    assert all("too large" in d.reason for d in trace.diagnostics)
    assert c.event(3)["work"] == 7 and trace.work(7).ran_in == [1]
    assert len(trace.works) == 1


def test_progress_during_a_long_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lambda_trace.model import load

    monkeypatch.setattr(load, "CHUNK", 64)
    monkeypatch.setattr(load, "PROGRESS_EVERY_S", 0.0)
    calls: list[tuple[int, int]] = []
    path = sample(tmp_path)
    trace = load_trace(path, progress=lambda done, total: calls.append((done, total)))
    assert len(calls) > 5
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    assert trace.findings


def test_truncated_gzip_keeps_what_was_read(tmp_path: Path) -> None:
    path = sample(tmp_path, "t.jsonl.gz")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 20])
    trace = load_trace(path)
    assert trace.truncated
    assert "compressed stream ends early" in trace.diagnostics[-1].reason


def _model(trace: Any) -> tuple[Any, ...]:
    """Everything the loader builds, as plain values."""
    c, t = trace.events, trace.table
    arrays = ("id", "flags", "parent", "created_in", "created_ns", "env", "done_ns", "status")
    facts = ("ran_more", "delay_ns", "cancel", "cancel_reason", "lost_ns", "cross", "error")
    return (
        [list(x) for x in (c.ts, c.kind, c.inv, c.work, c.offset)],
        list(trace.spans.first),
        list(trace.spans.last),
        [list(getattr(t, name)) for name in arrays],
        [t.ran_in(k) for k in range(len(t))],
        [getattr(t, name) for name in facts],
        (t.name, t.site, t.stack, trace.freezes, list(trace.diagnostics)),
        [repr(i) for i in trace.invocations],
        [repr(f) for f in trace.findings],
    )


def _careful_model(path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, ...]:
    """The model when every line goes through the careful loop (`_general`)."""
    from lambda_trace.model import load

    with monkeypatch.context() as m:
        m.setattr(load._Loader, "_fast", lambda self, lines, lo: lo)
        return _model(load_trace(path))


@pytest.fixture(params=["c", "python"])
def fast_loop(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each fast-loop test runs on the C loop (`_fastload.scan`) and on the Python one."""
    from lambda_trace.model import load

    if request.param == "python":
        monkeypatch.setattr(load, "_fastload", None)
    elif load._fastload is None:
        pytest.skip("the C loader is not built here (make ext) or LAMBDA_TRACE_PURE=1")
    return str(request.param)


@settings(max_examples=150, deadline=None, suppress_health_check=FIXTURE)
@given(
    st.lists(
        events(
            kinds=[
                "env.init.start", "invoke.start", "env.thaw", "env.freeze", "env.shutdown",
                "work.create", "work.begin", "work.end", "work.done", "work.cancel", "work.ref",
                "work.name", "respond.call", "respond.post", "invoke.end", "log", "error",
            ]
        )
        | st.sampled_from(["{bad json", "", '{"seq": 1}']),
        max_size=40,
    )
)  # fmt: skip
def test_fast_loop_indexes_as_the_careful_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fast_loop: str, evs: list[Any]
) -> None:
    # Small ids so events refer to each other (steps of unknown works, repeated creates...);
    # bad lines and payloads make the fast loop hand lines to the careful one and resume.
    lines = [orjson.dumps(HEADER)]
    for i, ev in enumerate(evs):
        if isinstance(ev, str):
            lines.append(ev.encode())
            continue
        ev["seq"], ev["ts"] = i + 1, i * 10
        for key in ("work", "inv", "created_in", "billed", "parent", "env"):
            if isinstance(ev.get(key), int):
                ev[key] %= 4
        for key in ("pending", "lost", "held_by"):
            if key in ev:
                ev[key] = [x % 4 for x in ev[key]]
        lines.append(orjson.dumps(ev))
    path = tmp_path / "t.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    assert _model(load_trace(path)) == _careful_model(path, monkeypatch)


@pytest.mark.parametrize(
    "path", sorted((Path(__file__).parents[2] / "traces").glob("*.jsonl")), ids=lambda p: p.stem
)
def test_fast_loop_indexes_recorded_traces_as_the_careful_loop(
    path: Path, monkeypatch: pytest.MonkeyPatch, fast_loop: str
) -> None:
    assert _model(load_trace(path)) == _careful_model(path, monkeypatch)


def test_c_loop_indexes_a_big_synthetic_trace_as_the_python_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """20,000 events of the benchmark's mix (tasks, timers, threads, logs, freezes, leaks), in
    small batches: the C loop and the Python loop build the same model."""
    from lambda_trace.model import load
    from tests.benchmarks.synth import write_synthetic

    if load._fastload is None:
        pytest.skip("the C loader is not built here (make ext) or LAMBDA_TRACE_PURE=1")
    path = tmp_path / "synth.jsonl"
    write_synthetic(path, 20_000, 40, 3)
    monkeypatch.setattr(load, "CHUNK", 64 * 1024)
    with_c = _model(load_trace(path))
    monkeypatch.setattr(load, "_fastload", None)
    assert _model(load_trace(path)) == with_c


@pytest.mark.parametrize("name", ["t.jsonl", "t.jsonl.gz"])
def test_offsets_across_many_batches(
    tmp_path: Path, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Line offsets are worked out per batch on demand: with 100-byte batches, bad lines among
    good ones, a line over the limit and more batches than are cached, every offset is the one
    the reader saw, whatever order they are asked in."""
    from lambda_trace.model import load, offsets

    monkeypatch.setattr(load, "CHUNK", 100)
    monkeypatch.setattr(load, "GZIP_CHUNK", 100)
    monkeypatch.setattr(offsets, "CACHED_PIECES", 2)
    monkeypatch.setattr(offsets, "PIECE", 3)
    b = TraceBuilder()
    b.init().init_end().invoke(1, cold=True)
    h = b.handler()
    for n in range(12):
        b.log(h, f"line {n}", "req-1")
    b.step(h, MS).respond().end().done(h)
    lines = b.write(tmp_path / "plain.jsonl").read_bytes().split(b"\n")
    lines[3:3] = [b"", b"{bad json", b'{"seq": 1, "text": "' + b"x" * 400 + b'"}']
    lines.insert(9, b"[]")
    data = b"\n".join(lines)
    path = tmp_path / name
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    diagnostics, kept = reader_view(path, 300)
    assert len(diagnostics) == 4
    trace = load_trace(path, max_line=300)
    c = trace.events
    expected = [offset for offset, *_ in kept]
    assert list(c.offset) == expected
    assert [c.offset[i] for i in reversed(range(len(c)))] == expected[::-1]
    assert [c.event(i)["seq"] for i in range(len(c))] == [
        orjson.loads(data[o : data.index(b"\n", o)])["seq"] for o in expected
    ]
    with pytest.raises(IndexError):
        c.offset[len(c)]
    trace.close()


def test_fast_loop_after_rows_added_by_a_rare_kind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fast_loop: str
) -> None:
    """A rare kind naming unknown work (`work.cancel`, `error`) adds its row on the Python side in
    the middle of a batch; the fast loop then steps, logs and finishes that work (found by
    hypothesis once: the C loop had a stale row count after the call back)."""
    evs: list[dict[str, Any]] = [
        {"kind": "invoke.start", "inv": 1, "request_id": "r1", "env": 1, "cold": True,
         "deadline_ns": 10**9, "event_size": 2, "event_sha256": "0" * 64},
        {"kind": "work.cancel", "inv": 1, "work": 5},
        {"kind": "work.begin", "inv": 1, "work": 5},
        {"kind": "log", "inv": 2, "stream": "stdout", "text": "x", "request_id": "r1", "work": 5},
        {"kind": "work.end", "inv": 1, "work": 5},
        {"kind": "error", "inv": 1, "work": 6, "type": "E", "message": "m", "billed": 1},
        {"kind": "work.create", "inv": 1, "work": 7, "parent": 6, "type": "task", "name": "t",
         "site": "a.py:1", "stack": ["a.py:1 in f"], "created_in": 1},
        {"kind": "work.begin", "inv": 2, "work": 6},
        {"kind": "work.done", "inv": 2, "work": 6, "status": "error", "error_type": "E"},
        {"kind": "work.done", "inv": 2, "work": 7, "status": "ok"},
    ]  # fmt: skip
    lines = [orjson.dumps(HEADER)]
    for i, ev in enumerate(evs):
        lines.append(orjson.dumps({"seq": i + 1, "ts": i * 10, **ev}))
    path = tmp_path / "t.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    trace = load_trace(path)
    assert not trace.diagnostics
    assert len(trace.works) == 3
    assert _model(trace) == _careful_model(path, monkeypatch)
