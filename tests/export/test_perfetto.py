"""Perfetto export: valid by the Trace Event Format's rules, and showing what leaked."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from lambda_trace.model.export_common import work_label
from lambda_trace.model.export_perfetto import (
    FLOW_CAT,
    FLOW_NAME,
    FROZEN_TID,
    INVOCATIONS_TID,
    WORK_TID_BASE,
    export_perfetto,
)
from tests.export.perfetto_rules import check_document
from tests.export.scenarios import IDS, MS, WEIRD, Builder, events_of, leak_trace


def export(path: Path) -> tuple[list[dict[str, Any]], dict[str, Any], list[dict[str, Any]]]:
    header, events = events_of(path)
    out = io.BytesIO()
    export_perfetto(header, events, out, source=path.name)
    doc = json.loads(out.getvalue())  # the stdlib parser: strict JSON
    return check_document(doc), doc, events


@pytest.fixture
def leak(tmp_path: Path) -> tuple[list[dict[str, Any]], dict[str, Any], list[dict[str, Any]]]:
    return export(leak_trace(tmp_path / "leak.jsonl"))


def tid(work: int) -> int:
    return WORK_TID_BASE + work


def test_document_shape(leak: Any) -> None:
    _, doc, events = leak
    assert doc["displayTimeUnit"] == "ns"
    meta = doc["metadata"]["lambda-trace"]
    assert meta["source"] == "leak.jsonl"
    assert meta["events"] == len(events)
    assert meta["profile"] == "node"


def test_tracks_named_per_environment_and_work(leak: Any) -> None:
    out, _, _ = leak
    names = {(e["pid"], e["tid"]): e["args"]["name"] for e in out if e["name"] == "thread_name"}
    processes = {e["pid"]: e["args"]["name"] for e in out if e["name"] == "process_name"}
    assert processes == {1: "environment 1", 2: "environment 2"}
    assert names[(1, INVOCATIONS_TID)] == "invocations"
    assert names[(1, FROZEN_TID)] == "frozen"
    assert names[(1, tid(IDS["child"]))] == "task flush (app.py:13)"
    # Text from the trace is data: it survives JSON exactly, quotes, newlines, NUL and all.
    assert names[(1, tid(IDS["timer"]))] == work_label("timer", WEIRD, "app.py:12")
    assert names[(2, tid(IDS["pending"]))] == "timer never (app.py:40)"


def test_times_are_microseconds(leak: Any) -> None:
    out, _, events = leak
    start = next(e for e in events if e["kind"] == "invoke.start" and e["inv"] == 2)
    end = next(e for e in events if e["kind"] == "invoke.end" and e["inv"] == 2)
    slice_ = next(e for e in out if e["ph"] == "X" and e["name"] == "invocation 2")
    assert slice_["ts"] == start["ts"] / 1000
    assert slice_["dur"] == (end["ts"] - start["ts"]) / 1000
    assert slice_["args"]["request_id"] == "req-2"
    assert slice_["args"]["held_ns"] == 3 * MS


def test_invocations_and_frozen_spans(leak: Any) -> None:
    out, _, _ = leak
    invocations = [e for e in out if e["ph"] == "X" and e["cat"] == "invocation"]
    assert [(e["pid"], e["name"]) for e in sorted(invocations, key=lambda e: e["ts"])] == [
        (1, "invocation 1"),
        (1, "invocation 2"),
        (1, "invocation 3"),
        (2, "invocation 4"),
    ]
    assert invocations[2]["args"]["outcome"] == "timeout"
    frozen = sorted(
        (e for e in out if e["ph"] == "X" and e["tid"] == FROZEN_TID), key=lambda e: e["ts"]
    )
    assert [(e["pid"], e["dur"]) for e in frozen[:2]] == [
        (1, 1000 * MS / 1000),
        (1, 500 * MS / 1000),
    ]
    assert frozen[0]["args"]["pending_ids"] == [IDS["timer"], IDS["child"]]
    assert frozen[2]["pid"] == 2 and frozen[2]["args"]["ended_by"] == "shutdown (end)"


def test_instants_for_freeze_thaw_response(leak: Any) -> None:
    out, _, _ = leak
    instants = [e for e in out if e["ph"] == "i"]
    names = [e["name"] for e in instants if e["tid"] == INVOCATIONS_TID]
    assert names.count("freeze") == 3
    assert names.count("thaw") == 2
    assert "respond.call (succeed)" in names and "respond.post (callback)" in names
    assert "respond.post" in names  # the runtime answered (timeout): via null
    assert "shutdown (timeout)" in names
    lost = [e for e in instants if e["tid"] == tid(IDS["sock"]) and e["name"] == "lost"]
    assert len(lost) == 1
    log = next(e for e in instants if e["name"] == "log")
    assert log["tid"] == tid(IDS["timer"]) and log["args"]["request_id"] == "req-1"
    error = next(e for e in instants if e["name"] == "error ValueError")
    assert error["tid"] == tid(IDS["grandchild"]) and error["args"]["billed"] == 2


def test_flows_only_for_work_that_crossed_invocations(leak: Any) -> None:
    out, _, _ = leak
    flows = [e for e in out if e["ph"] in ("s", "f")]
    assert {(e["cat"], e["name"]) for e in flows} == {(FLOW_CAT, FLOW_NAME)}
    assert sorted({e["id"] for e in flows}) == [IDS["timer"], IDS["child"]]
    start = next(e for e in flows if e["ph"] == "s" and e["id"] == IDS["timer"])
    finish = next(e for e in flows if e["ph"] == "f" and e["id"] == IDS["timer"])
    handler = 2
    assert (start["pid"], start["tid"]) == (1, tid(handler))  # where it was created
    assert (finish["pid"], finish["tid"]) == (1, tid(IDS["timer"]))  # where it ran
    assert finish["args"] == {
        "work": IDS["timer"],
        "created_in": 1,
        "ran_in": 2,
        "site": "app.py:12",
    }
    # The child also ran in invocation 1: the arrow ends at its first step in invocation 2.
    child_steps = sorted(
        (e for e in out if e["ph"] == "X" and e["tid"] == tid(IDS["child"])), key=lambda e: e["ts"]
    )
    child_finish = next(e for e in flows if e["ph"] == "f" and e["id"] == IDS["child"])
    assert child_steps[0]["args"]["ran_in"] == 1 and "crossed" not in child_steps[0]["args"]
    assert child_steps[1]["args"]["crossed"] is True
    assert child_finish["ts"] == child_steps[1]["ts"]


def test_work_created_by_the_runtime_flows_from_the_invocations_track(tmp_path: Path) -> None:
    b = Builder(tmp_path / "t.jsonl")
    b.init_start(1)
    module_timer = b.create(0, "timer", "refresh", None, 5)
    b.init_end(1)
    b.invoke_start(1, env=1, cold=True)
    b.step(1, module_timer)
    b.emit("work.done", 1, advance=0, work=module_timer, status="ok")
    b.emit("invoke.end", 1, request_id="req-1", outcome="success", duration_ns=MS)
    out, _, _ = export(b.close())
    start = next(e for e in out if e["ph"] == "s")
    assert (start["tid"], start["args"]["created_in"], start["args"]["ran_in"]) == (
        INVOCATIONS_TID,
        0,
        1,
    )


def test_open_things_are_closed_at_the_end(tmp_path: Path) -> None:
    """A trace cut mid-invocation (killed recorder) still gives balanced, nested slices."""
    b = Builder(tmp_path / "t.jsonl")
    b.init(1)
    b.invoke_start(1, env=1, cold=True)
    handler = b.create(1, "task", "handler handler", None, 10, role="handler")
    b.emit("work.begin", 1, work=handler)
    b.emit("work.begin", 1, work=999)  # a unit whose creation is not in the trace
    out, _, _ = export(b.close())
    unfinished = [e for e in out if e["ph"] == "X" and e["args"].get("unfinished")]
    assert {e["name"] for e in unfinished} == {"invocation 1", "handler handler", "#999"}


def test_same_timestamp_everything(tmp_path: Path) -> None:
    """Virtual clocks put many events on one ts: zero-length slices must still nest and bind."""
    b = Builder(tmp_path / "t.jsonl")
    b.init(1)
    b.invoke_start(1, env=1, cold=True)
    handler = b.create(1, "task", "handler handler", None, 10, role="handler")
    b.emit("work.begin", 1, advance=0, work=handler)
    timer = b.create(1, "timer", "t", handler, 11)
    b.emit("work.end", 1, advance=0, work=handler)
    b.emit("invoke.end", 1, advance=0, request_id="req-1", outcome="success", duration_ns=0)
    b.emit("env.freeze", 1, advance=0, pending=[timer])
    b.emit("invoke.start", 2, advance=0, request_id="req-2", env=1, cold=False, deadline_ns=0,
           event_size=0, event_sha256="")  # fmt: skip
    b.emit("env.thaw", 2, advance=0, frozen_ns=0)
    b.emit("work.begin", 2, advance=0, work=timer)
    b.emit("work.end", 2, advance=0, work=timer)
    out, _, _ = export(b.close())
    assert sum(e["ph"] == "f" for e in out) == 1
