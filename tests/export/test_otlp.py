"""OTLP export: every line is a TracesData by the official protobuf definitions."""

from __future__ import annotations

import base64
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import json_format
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status, TracesData

from lambda_trace.model import export_otlp as otlp_module
from lambda_trace.model.export_common import epoch_base_ns
from lambda_trace.model.export_otlp import export_otlp
from tests.export.scenarios import HEADER, IDS, MS, WEIRD, Builder, events_of, leak_trace

HEX32 = re.compile(r"^[0-9a-f]{32}$")
HEX16 = re.compile(r"^[0-9a-f]{16}$")


def _hex_to_base64(obj: dict[str, Any], key: str, pattern: re.Pattern[str]) -> None:
    if key in obj:
        assert pattern.match(obj[key]), obj[key]
        obj[key] = base64.b64encode(bytes.fromhex(obj[key])).decode()


def parse_line(line: bytes) -> TracesData:
    """Parse one line strictly with the official definitions.

    OTLP/JSON writes ids as hex where proto3's JSON mapping expects base64 (the one documented
    deviation), so ids are checked as hex and re-encoded; everything else is parsed as written.
    """
    json_format.Parse(line, TracesData())  # unknown fields or wrong types fail here
    obj = json.loads(line)
    for resource_spans in obj["resourceSpans"]:
        for scope_spans in resource_spans["scopeSpans"]:
            for span in scope_spans["spans"]:
                _hex_to_base64(span, "traceId", HEX32)
                _hex_to_base64(span, "spanId", HEX16)
                _hex_to_base64(span, "parentSpanId", HEX16)
                for link in span.get("links", []):
                    _hex_to_base64(link, "traceId", HEX32)
                    _hex_to_base64(link, "spanId", HEX16)
    data = json_format.Parse(json.dumps(obj), TracesData())
    for resource_spans in data.resource_spans:
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                assert len(span.trace_id) == 16 and len(span.span_id) == 8
    return data


def export_lines(path: Path) -> list[bytes]:
    header, events = events_of(path)
    out = io.BytesIO()
    export_otlp(header, events, out)
    data = out.getvalue()
    assert data.endswith(b"\n")
    return data.splitlines()


def attrs(message: Any) -> dict[str, Any]:
    result = {}
    for kv in message.attributes:
        field = kv.value.WhichOneof("value")
        result[kv.key] = getattr(kv.value, field)
    return result


def spans_of(lines: list[bytes]) -> list[Span]:
    return [
        span
        for line in lines
        for rs in parse_line(line).resource_spans
        for ss in rs.scope_spans
        for span in ss.spans
    ]


@pytest.fixture
def leak(tmp_path: Path) -> tuple[list[bytes], list[Span]]:
    lines = export_lines(leak_trace(tmp_path / "leak.jsonl"))
    return lines, spans_of(lines)


def by_work(spans: list[Span], work: int) -> Span:
    return next(s for s in spans if attrs(s).get("lambda_trace.work") == work)


def root_of(spans: list[Span], inv: int) -> Span:
    return next(s for s in spans if attrs(s).get("lambda_trace.invocation") == inv)


def test_every_line_is_one_traces_data_per_trace(leak: Any) -> None:
    lines, spans = leak
    assert len(lines) == 6  # 2 INIT phases + 4 invocations, one trace each
    for line in lines:
        data = parse_line(line)
        (rs,) = data.resource_spans
        (ss,) = rs.scope_spans
        assert ss.scope.name == "lambda-trace"
        assert len({s.trace_id for s in ss.spans}) == 1
        assert sum(not s.parent_span_id for s in ss.spans) == 1  # one root
        assert attrs(rs.resource)["cloud.provider"] == "aws"
    assert len({s.trace_id for s in spans}) == 6


def test_root_spans_carry_faas_attributes(leak: Any) -> None:
    _, spans = leak
    for inv, cold, env in [(1, True, 1), (2, False, 1), (3, False, 1), (4, True, 2)]:
        root = root_of(spans, inv)
        a = attrs(root)
        assert root.kind == Span.SPAN_KIND_SERVER
        assert (a["faas.invocation_id"], a["faas.coldstart"], a["faas.instance"]) == (
            f"req-{inv}",
            cold,
            f"env-{env}",
        )
    timeout = root_of(spans, 3)
    assert timeout.status.code == Status.STATUS_CODE_ERROR
    assert "Task timed out after 3.00 seconds" in timeout.status.message
    assert root_of(spans, 2).status.code == Status.STATUS_CODE_UNSET


def test_freeze_and_thaw_are_span_events(leak: Any) -> None:
    _, spans = leak
    one, two = root_of(spans, 1), root_of(spans, 2)
    freeze = next(e for e in one.events if e.name == "env.freeze")
    assert attrs(freeze)["pending"] == 2
    assert one.end_time_unix_nano == freeze.time_unix_nano  # the root ends at its freeze
    thaw = next(e for e in two.events if e.name == "env.thaw")
    assert attrs(thaw)["frozen_ns"] == 1000 * MS
    assert thaw.time_unix_nano == two.start_time_unix_nano
    post = next(e for e in two.events if e.name == "respond.post")
    assert attrs(post)["held_ns"] == 3 * MS


def test_leaked_timer_is_a_child_of_its_creator_linked_to_where_it_ran(leak: Any) -> None:
    _, spans = leak
    timer = by_work(spans, IDS["timer"])
    handler = by_work(spans, 2)
    assert timer.trace_id == root_of(spans, 1).trace_id  # in the trace that created it
    assert timer.parent_span_id == handler.span_id
    assert timer.name == f"timer {WEIRD} (app.py:12)"
    (link,) = timer.links
    two = root_of(spans, 2)
    assert (link.trace_id, link.span_id) == (two.trace_id, two.span_id)
    assert attrs(link)["lambda_trace.relation"] == "ran_in"
    a = attrs(timer)
    assert a["lambda_trace.crossed_invocation"] is True
    assert a["lambda_trace.created_in"] == 1
    log = next(e for e in timer.events if e.name == "log")
    assert attrs(log)["request_id"] == "req-1"


def test_work_created_by_leaked_work_links_back_to_its_creator(leak: Any) -> None:
    _, spans = leak
    grandchild = by_work(spans, IDS["grandchild"])
    two = root_of(spans, 2)
    assert grandchild.trace_id == two.trace_id
    assert grandchild.parent_span_id == two.span_id
    (link,) = grandchild.links
    assert link.span_id == by_work(spans, IDS["timer"]).span_id
    assert attrs(link)["lambda_trace.relation"] == "created_by"
    assert grandchild.status.code == Status.STATUS_CODE_ERROR
    assert grandchild.status.message == "ValueError: bad <retry>"
    # The `error` event follows work.done: it lands on the root of the invocation billed for it.
    exception = next(e for e in two.events if e.name == "exception")
    assert attrs(exception)["exception.type"] == "ValueError"
    assert attrs(exception)["lambda_trace.work"] == IDS["grandchild"]


def test_lost_and_module_level_work(leak: Any) -> None:
    _, spans = leak
    sock = by_work(spans, IDS["sock"])
    assert attrs(sock)["lambda_trace.status"] == "lost"
    assert sock.trace_id == root_of(spans, 3).trace_id
    pending = by_work(spans, IDS["pending"])
    assert attrs(pending)["lambda_trace.status"] == "lost"
    module = by_work(spans, 1)
    init = next(s for s in spans if attrs(s).get("lambda_trace.phase") == "init")
    assert module.trace_id == init.trace_id and module.parent_span_id == init.span_id


def test_line_written_when_invocation_and_its_work_are_done(leak: Any) -> None:
    lines, _ = leak
    roots = []
    for line in lines:
        for span in spans_of([line]):
            if not span.parent_span_id:
                roots.append(attrs(span).get("lambda_trace.invocation", "init"))
    # Invocation 1 waits for its leaked timer and child, which finish in invocation 2.
    assert roots == ["init", 1, 2, 3, "init", 4]


def test_ids_are_stable_across_exports(tmp_path: Path) -> None:
    path = leak_trace(tmp_path / "leak.jsonl")
    assert export_lines(path) == export_lines(path)
    other = leak_trace(tmp_path / "other.jsonl")  # same bytes, other name: same ids
    assert export_lines(other) == export_lines(path)


def test_times_use_the_header_created_time(tmp_path: Path) -> None:
    header = HEADER | {"created": "2024-05-01T12:00:00.250000+00:00", "clock": "wall"}
    b = Builder(tmp_path / "t.jsonl", header)
    b.init(1)
    b.invoke_start(1, env=1, cold=True)
    b.emit("invoke.end", 1, request_id="req-1", outcome="success", duration_ns=MS)
    b.emit("env.freeze", 1, pending=[])
    lines = export_lines(b.close())
    root = root_of(spans_of(lines), 1)
    base = 1_714_564_800_250_000_000
    assert epoch_base_ns(header) == base
    assert root.start_time_unix_nano == base + 3 * MS
    assert b'"startTimeUnixNano":"1714564800253000000"' in lines[1]  # 64-bit ints as strings


def test_big_traces_are_split_into_lines_of_one_trace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(otlp_module, "MAX_HELD_SPANS", 3)
    b = Builder(tmp_path / "t.jsonl")
    b.init(1)
    b.invoke_start(1, env=1, cold=True)
    leaked = b.create(1, "timer", "late", None, 9)
    for i in range(7):
        work = b.create(1, "task", f"job {i}", None, 10)
        b.step(1, work)
        b.emit("work.done", 1, advance=0, work=work, status="ok")
    b.emit("invoke.end", 1, request_id="req-1", outcome="success", duration_ns=MS)
    b.emit("env.freeze", 1, pending=[leaked])
    b.emit("invoke.start", 2, request_id="req-2", env=1, cold=False, deadline_ns=0,
           event_size=0, event_sha256="")  # fmt: skip
    b.step(2, leaked)
    b.emit("work.done", 2, advance=0, work=leaked, status="ok")
    lines = export_lines(b.close())
    spans = spans_of(lines)
    one = root_of(spans, 1).trace_id
    assert sum(s.trace_id == one for s in spans) == 9  # root + 7 jobs + the timer
    assert len([line for line in lines if spans_of([line])[0].trace_id == one]) == 3


def test_many_steps_are_capped_and_counted(tmp_path: Path) -> None:
    b = Builder(tmp_path / "t.jsonl")
    b.init(1)
    b.invoke_start(1, env=1, cold=True)
    interval = b.create(1, "timer", "interval", None, 9)
    for _ in range(100):
        b.step(1, interval, dur=0)
    b.emit("work.done", 1, advance=0, work=interval, status="cancelled")
    (span,) = [s for s in spans_of(export_lines(b.close())) if attrs(s).get("lambda_trace.work")]
    assert len(span.events) == otlp_module.MAX_SPAN_EVENTS
    assert span.dropped_events_count == 200 - otlp_module.MAX_SPAN_EVENTS
    assert attrs(span)["lambda_trace.steps"] == 100
