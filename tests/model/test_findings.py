"""Each finding category from small hand-written traces, with the edge cases the issue names."""

from __future__ import annotations

from pathlib import Path

import pytest

from lambda_trace.model import Trace, load_trace
from tests.model.builder import MS, S, TraceBuilder


def load(b: TraceBuilder, tmp_path: Path) -> Trace:
    return load_trace(b.write(tmp_path / "t.jsonl"))


def cats(trace: Trace) -> list[tuple[str, int | None, int | None]]:
    return [(f.category, f.work, f.invocation) for f in trace.findings]


def first_invocation(b: TraceBuilder) -> int:
    b.init().init_end()
    b.invoke(1, cold=True)
    h = b.handler()
    b.step(h, 1 * MS)
    return h


def finish(b: TraceBuilder, h: int, via: str = "return") -> None:
    b.respond(via).end().done(h)


def test_timer_crosses_into_next_invocation(tmp_path: Path) -> None:
    b = TraceBuilder()
    h = first_invocation(b)
    t = b.create("timer", "write_metrics", "app.py:12", delay_ns=100 * MS)
    b.wait(2 * MS)
    finish(b, h, "succeed")
    b.freeze(t)
    b.thaw(2, 1 * S).wait(3 * MS).step(t, 1 * MS).done(t)
    h2 = b.handler()
    b.step(h2)
    finish(b, h2)
    b.freeze().shutdown("end")
    trace = load(b, tmp_path)
    assert cats(trace) == [("pending_at_freeze", t, 1), ("crossed_invocation", t, 2)]
    crossed = trace.findings[1]
    assert crossed.message == (
        "timer `write_metrics` (app.py:12) was created in invocation 1, frozen for 1.00 s, "
        "and ran 3 ms into invocation 2"
    )
    assert crossed.created_in == 1 and crossed.ran_in == [2]
    assert crossed.timings["frozen_ns"] == 1 * S and crossed.timings["into_ns"] == 3 * MS
    assert trace.invocations[0].pending_at_freeze == [t]
    assert "still pending when the environment froze after invocation 1" in (
        trace.findings[0].message
    )
    assert trace.findings_for_work(t) == trace.findings
    assert [f.category for f in trace.findings_for_invocation(2)] == ["crossed_invocation"]
    assert trace.works_created_in(1) == [trace.work(h), trace.work(t)]
    assert trace.work(t) in trace.works_ran_in(2)


def test_init_work_running_in_first_invocation_is_not_a_leak(tmp_path: Path) -> None:
    b = TraceBuilder()
    b.init()
    pool = b.create("task", "warm_pool", "app.py:3")
    b.init_end()
    b.invoke(1, cold=True)
    b.step(pool, 1 * MS).done(pool)
    h = b.handler()
    b.step(h)
    finish(b, h)
    b.freeze().shutdown("end")
    assert load(b, tmp_path).findings == []


def test_init_work_running_after_a_freeze_crossed(tmp_path: Path) -> None:
    b = TraceBuilder()
    b.init()
    ticker = b.create("timer", "refresh", "app.py:3", delay_ns=5 * S)
    b.init_end()
    b.invoke(1, cold=True)
    h = b.handler()
    b.step(h)
    finish(b, h)
    b.freeze(ticker)
    b.thaw(2, 10 * S).step(ticker, 1 * MS).done(ticker)
    h2 = b.handler()
    b.step(h2)
    finish(b, h2)
    b.freeze().shutdown("end")
    trace = load(b, tmp_path)
    assert cats(trace) == [("pending_at_freeze", ticker, 1), ("crossed_invocation", ticker, 2)]
    assert trace.findings[1].message.startswith(
        "timer `refresh` (app.py:3) was created during INIT, frozen for 10.00 s"
    )


def test_work_crossing_two_freezes(tmp_path: Path) -> None:
    b = TraceBuilder()
    h = first_invocation(b)
    t = b.create("timer", "flush", "app.py:20", delay_ns=5 * S)
    finish(b, h)
    b.freeze(t)
    b.thaw(2, 1 * S)
    h2 = b.handler()
    b.step(h2)
    finish(b, h2)
    b.freeze(t)
    b.thaw(3, 2 * S).wait(1 * MS).step(t).done(t)
    h3 = b.handler()
    b.step(h3)
    finish(b, h3)
    b.freeze().shutdown("end")
    trace = load(b, tmp_path)
    assert cats(trace) == [("pending_at_freeze", t, 1), ("crossed_invocation", t, 3)]
    pending, crossed = trace.findings
    assert pending.details["frozen_after"] == [1, 2]
    assert "(and after 2)" in pending.message
    assert crossed.timings["frozen_ns"] == 3 * S
    assert "frozen for 3.00 s across 2 freezes, and ran 1 ms into invocation 3" in crossed.message
    assert [i.pending_at_freeze for i in trace.invocations] == [[t], [t], []]


def test_timer_cancelled_before_the_thaw_is_not_a_leak(tmp_path: Path) -> None:
    # asyncio keeps a cancelled TimerHandle in its heap: the emulator may still list it as pending.
    b = TraceBuilder()
    h = first_invocation(b)
    t = b.create("timer", "retry", "app.py:30", delay_ns=5 * S)
    b.cancel(t)
    finish(b, h)
    b.freeze(t)
    b.thaw(2, 1 * S)
    h2 = b.handler()
    b.step(h2)
    finish(b, h2)
    b.freeze().shutdown("end", t)
    trace = load(b, tmp_path)
    assert trace.findings == []
    assert trace.invocations[0].pending_at_freeze == []


@pytest.mark.parametrize("done_after_freeze_event", [False, True])
def test_work_ending_exactly_at_the_freeze_is_not_pending(
    tmp_path: Path, done_after_freeze_event: bool
) -> None:
    b = TraceBuilder()
    h = first_invocation(b)
    th = b.create("thread", "uploader", "app.py:40")
    b.step(th, 2 * MS)
    finish(b, h)
    b.emit("work.begin", work=th).wait(1 * MS).emit("work.end", work=th)
    if done_after_freeze_event:
        b.freeze(th).done(th)
    else:
        b.done(th).freeze(th)
    b.thaw(2, 1 * S)
    h2 = b.handler()
    b.step(h2)
    finish(b, h2)
    b.freeze().shutdown("end")
    trace = load(b, tmp_path)
    assert trace.findings == []
    assert trace.work(th).ran_in == [1]


def test_lost_at_reclaim_and_at_end_of_trace(tmp_path: Path) -> None:
    b = TraceBuilder()
    h = first_invocation(b)
    t = b.create("timer", "beacon", "app.py:50", delay_ns=60 * S)
    finish(b, h)
    b.freeze(t).shutdown("spindown", t)
    trace = load(b, tmp_path)
    assert cats(trace) == [("pending_at_freeze", t, 1), ("lost", t, 1)]
    assert trace.findings[1].message == (
        "timer `beacon` (app.py:50) created in invocation 1 never ran: it was pending when "
        "the environment was reclaimed (after invocation 1)"
    )
    # Same trace cut before any shutdown: whatever is unfinished is lost when the trace ends.
    b.events.pop()
    trace = load(b, tmp_path)
    assert cats(trace)[-1] == ("lost", t, 1)
    assert "pending when the trace ended" in trace.findings[-1].message


def test_dropped_by_teardown_but_not_by_user_cancel(tmp_path: Path) -> None:
    b = TraceBuilder()
    h = first_invocation(b)
    fire = b.create("task", "send_event", "app.py:60")
    mine = b.create("task", "spinner", "app.py:61")
    silent = b.create("timer", "later", "app.py:62", delay_ns=S)
    b.step(fire)
    b.cancel(mine).done(mine, "cancelled")
    b.cancel(fire, "asyncio.run").done(fire, "cancelled")
    b.done(silent, "cancelled")
    finish(b, h)
    b.freeze().shutdown("end")
    trace = load(b, tmp_path)
    assert cats(trace) == [("dropped", fire, 1), ("dropped", silent, 1)]
    assert trace.findings[0].message == (
        "task `send_event` (app.py:60) created in invocation 1 was cancelled by asyncio.run "
        "before it finished: await it before the handler answers"
    )
    assert "cancelled by the runtime before it ever ran" in trace.findings[1].message


def test_held_response_names_what_held_it(tmp_path: Path) -> None:
    b = TraceBuilder()
    h = first_invocation(b)
    t = b.create("timer", "poll", "app.py:70", delay_ns=1 * S)
    b.done(h)
    b.emit("respond.call", via="callback", status="success", accepted=True)
    b.wait(1200 * MS).step(t).done(t)
    b.emit("respond.post", via="callback", status="success", held_ns=1200 * MS, held_by=[t])
    b.end().freeze().shutdown("end")
    trace = load(b, tmp_path)
    assert cats(trace) == [("held_response", t, 1)]
    f = trace.findings[0]
    assert f.message == (
        "the response of invocation 1 was held 1.20 s after callback() until the event loop "
        "drained: the loop was kept busy by timer `poll` (app.py:70)"
    )
    assert f.timings["held_ns"] == 1200 * MS and f.details["held_by"] == [t]
    assert trace.invocations[0].held_by == [t]


def test_tiny_unexplained_hold_is_not_a_finding(tmp_path: Path) -> None:
    b = TraceBuilder()
    h = first_invocation(b)
    b.respond("return", held_ns=20_000).end().done(h).freeze().shutdown("end")
    assert load(b, tmp_path).findings == []


def test_timeout_keepalive_names_the_handles(tmp_path: Path) -> None:
    b = TraceBuilder()
    h = first_invocation(b)
    sock = b.create("io", "pg socket", "db.py:4")
    b.step(sock).done(h)
    b.emit("respond.call", via="callback", status="success", accepted=True)
    b.wait(3 * S)
    b.emit(
        "respond.post", via=None, status="error", held_ns=3 * S, held_by=[sock],
        error_type="Sandbox.Timedout", error_message="Task timed out after 3.00 seconds",
    )  # fmt: skip
    b.end("timeout").shutdown("timeout", sock)
    trace = load(b, tmp_path)
    # The idle socket is named by timeout_keepalive, not also reported lost.
    assert cats(trace) == [("timeout_keepalive", sock, 1)]
    msg = trace.findings[0].message
    assert "invocation 1 answered via callback() 1 ms in but timed out after 3.00 s" in msg
    assert "io `pg socket` (db.py:4)" in msg
    assert trace.invocations[0].outcome == "timeout"


def test_timeout_keepalive_falls_back_to_lost_ref_handles(tmp_path: Path) -> None:
    b = TraceBuilder()
    h = first_invocation(b)
    interval = b.create("timer", "heartbeat", "app.py:80", delay_ns=S)
    quiet = b.create("timer", "unrefd", "app.py:81", delay_ns=S, ref=False)
    b.done(h).emit("respond.call", via="callback", status="success", accepted=True)
    b.wait(3 * S).emit("respond.post", via=None, status="error", held_ns=3 * S)
    b.end("timeout").shutdown("timeout", interval, quiet)
    trace = load(b, tmp_path)
    (timeout,) = [f for f in trace.findings if f.category == "timeout_keepalive"]
    assert timeout.details["kept_by"] == [interval]


def test_error_misattributed(tmp_path: Path) -> None:
    b = TraceBuilder()
    h = first_invocation(b)
    task = b.create("task", "flush", "app.py:90")
    ok = b.create("task", "local", "app.py:91")
    b.step(ok).error(ok, billed=1).done(ok, "error")
    finish(b, h)
    b.freeze(task)
    b.thaw(2, S).step(task).error(task, billed=2, fatal=True).done(task, "error")
    trace = load(b, tmp_path)
    (err,) = [f for f in trace.findings if f.category == "error_misattributed"]
    assert (err.work, err.invocation, err.created_in) == (task, 2, 1)
    assert err.message == (
        "TypeError: boom raised by task `flush` (app.py:90), created in invocation 1, was "
        "billed to invocation 2 and reset the environment"
    )


def test_log_misattributed_counts_lines_and_tags(tmp_path: Path) -> None:
    b = TraceBuilder()
    h = first_invocation(b)
    task = b.create("task", "report", "app.py:100")
    b.log(h, "in handler", "req-1").log(task, "mine", "req-1")
    finish(b, h)
    b.freeze(task)
    b.thaw(2, S).emit("work.begin", work=task)
    b.log(task, "late 1", "req-1").log(task, "late 2", "req-2")
    b.emit("work.end", work=task).done(task)
    trace = load(b, tmp_path)
    (log,) = [f for f in trace.findings if f.category == "log_misattributed"]
    assert (log.work, log.invocation, log.details["lines"]) == (task, 2, 2)
    assert log.details["request_id"] == "req-1" and log.details["text"] == "late 1"
    assert log.message == (
        "2 log lines of task `report` (app.py:100), created in invocation 1, were emitted "
        "during invocation 2, tagged with invocation 1's request id"
    )


def pooled_socket(b: TraceBuilder, *, busy_after_response: bool) -> int:
    h = first_invocation(b)
    sock = b.create("io", "pool conn", "db.py:10")
    b.step(sock, 1 * MS)
    b.respond().end().done(h)
    if busy_after_response:
        b.wait(MS).step(sock)
    b.freeze(sock)
    b.thaw(2, S)
    h2 = b.handler()
    b.step(sock).step(h2)
    finish(b, h2)
    b.freeze(sock).shutdown("end", sock)
    return sock


def test_idle_pooled_socket_is_kept_alive_only(tmp_path: Path) -> None:
    b = TraceBuilder()
    sock = pooled_socket(b, busy_after_response=False)
    trace = load(b, tmp_path)
    assert cats(trace) == [("kept_alive", sock, 1)]
    assert not trace.findings[0].is_leak
    assert "stayed open across 2 freezes" in trace.findings[0].message


def test_socket_busy_at_the_freeze_is_pending_and_crosses(tmp_path: Path) -> None:
    b = TraceBuilder()
    sock = pooled_socket(b, busy_after_response=True)
    trace = load(b, tmp_path)
    assert cats(trace) == [("pending_at_freeze", sock, 1), ("crossed_invocation", sock, 2)]


def test_segments_and_state_at(tmp_path: Path) -> None:
    b = TraceBuilder()
    h = first_invocation(b)  # ts 1 ms after the handler step
    t = b.create("timer", "t", delay_ns=S)
    created = b.ts
    b.wait(5 * MS)
    finish(b, h)
    freeze = b.ts
    b.freeze(t).thaw(2, S).step(t, 2 * MS).done(t)
    trace = load(b, tmp_path)
    w = trace.work(t)
    segs = w.segments(trace.freezes, trace.end_ns)
    assert [s[2] for s in segs] == ["waiting", "frozen", "running"]
    assert segs[0][0] == created and segs[1] == (freeze, freeze + S, "frozen")
    assert w.spans == [(freeze + S, freeze + S + 2 * MS, 2)]
    assert w.state_at(freeze + S // 2, trace.freezes, trace.end_ns) == "frozen"
    assert w.state_at(freeze + S + MS, trace.freezes, trace.end_ns) == "running"
    assert w.state_at(freeze + S + 3 * MS, trace.freezes, trace.end_ns) is None
    assert trace.freezes == [(freeze, freeze + S, 1)]
    assert trace.invocations[0].freeze_ns == freeze and trace.invocations[0].thaw_ns == freeze + S


def test_timeout_without_an_answer_is_not_timeout_keepalive(tmp_path: Path) -> None:
    b = TraceBuilder()
    h = first_invocation(b)
    b.wait(3 * S).emit("respond.post", via=None, status="error", held_ns=0)
    b.end("timeout").shutdown("timeout", h)
    trace = load(b, tmp_path)
    assert cats(trace) == [("lost", h, 1)]
    assert trace.findings[0].message.startswith(
        "handler `handler main` (app.py:1) created in invocation 1 never finished"
    )


def test_handler_that_keeps_running_after_its_callback_crosses(tmp_path: Path) -> None:
    b = TraceBuilder()
    h = first_invocation(b)
    b.respond("callback").emit("respond.call", via="return", status="success", accepted=False)
    b.end().freeze(h)
    b.thaw(2, S).wait(2 * MS).step(h).done(h)
    trace = load(b, tmp_path)
    assert cats(trace) == [("pending_at_freeze", h, 1), ("crossed_invocation", h, 2)]
    assert "the handler kept running after it answered" in trace.findings[0].message
    assert trace.invocations[0].ignored_calls == 1
    assert trace.invocations[0].respond_via == "callback"


def test_crash_resets_and_next_invocation_is_cold(tmp_path: Path) -> None:
    b = TraceBuilder()
    h = first_invocation(b)
    t = b.create("timer", "t", delay_ns=S)
    b.error(h, billed=1, fatal=True).end("crash").shutdown("crash", h, t, exit_code=129)
    b.init().init_end().invoke(2, cold=True)
    h2 = b.handler()
    b.step(h2).respond().end().done(h2).freeze().shutdown("end")
    trace = load(b, tmp_path)
    assert [i.outcome for i in trace.invocations] == ["crash", "success"]
    assert [i.cold for i in trace.invocations] == [True, True]
    assert [(e.env, e.shutdown_reason) for e in trace.envs] == [(1, "crash"), (2, "end")]
    assert cats(trace) == [("lost", h, 1), ("lost", t, 1)]
    assert "it was pending when the environment crashed" in trace.findings[0].message
    assert trace.work(t).env == 1 and trace.work(h2).env == 2
    assert [w.id for w in trace.works_created_in(2)] == [h2]
