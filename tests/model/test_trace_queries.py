"""Plain questions the viewer asks the model: where a finding points, which invocation a time is in."""

from __future__ import annotations

from pathlib import Path

from lambda_trace.model.load import load_trace

TRACE = Path(__file__).parents[2] / "traces" / "succeed_pending_write.jsonl"


def test_a_crossing_points_at_the_step_in_the_later_invocation() -> None:
    trace = load_trace(TRACE)
    crossed = next(f for f in trace.findings if f.category == "crossed_invocation")
    assert crossed.when() == crossed.timings["ran_ns"]
    assert trace.invocation_at(crossed.when() or 0) == crossed.ran_in[-1] == 2


def test_pending_points_at_the_freeze() -> None:
    trace = load_trace(TRACE)
    pending = next(f for f in trace.findings if f.category == "pending_at_freeze")
    assert pending.when() == pending.timings["freeze_ns"]


def test_invocation_at_follows_the_events() -> None:
    trace = load_trace(TRACE)
    # At a warm start the first event is its invoke.start; at ts 0 it is the INIT's (invocation 0).
    assert trace.invocation_at(0) == 0
    for inv in trace.invocations[1:]:
        assert trace.invocation_at(inv.start_ns) == inv.index
    assert trace.invocation_at(trace.end_ns + 1) is None
