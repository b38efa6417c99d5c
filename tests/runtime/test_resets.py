"""Resets and reclaim: exits, crashes, hangs, spindown and the end of a recording. Each leaves a
readable trace and the next invocation is a cold start."""

from __future__ import annotations

from pathlib import Path

from lambda_trace.model.reader import read_events
from tests.runtime.helpers import record

PENDING_THEN = """
import asyncio
import os
import sys
import time

async def audit():
    await asyncio.sleep(5)

def handler(event, context):
    asyncio.get_event_loop().create_task(audit())
    if event["n"] == 1:
        {action}
    context.succeed("ok")
"""


def test_sys_exit_ends_the_environment(tmp_path: Path) -> None:
    rec = record(tmp_path, PENDING_THEN.format(action="sys.exit(3)"), events=3)
    assert [r.outcome for r in rec.results] == ["success", "crash", "success"]
    second = rec.results[1]
    assert (second.error_type, second.exit_code) == ("Runtime.ExitError", 3)
    assert second.error_message.endswith("Runtime exited with error: exit status 3")
    shutdown = rec.of("env.shutdown")[0]
    assert (shutdown["inv"], shutdown["reason"], shutdown["exit_code"]) == (2, "exit", 3)
    # Invocation 1's audit and invocation 2's are lost with the environment.
    audits = [e["work"] for e in rec.of("work.create") if e["name"] == "audit"]
    assert shutdown["lost"] == audits[:2]
    assert [s["cold"] for s in rec.of("invoke.start")] == [True, False, True]


def test_os_exit_leaves_the_trace_and_a_shutdown_by_the_supervisor(tmp_path: Path) -> None:
    rec = record(tmp_path, PENDING_THEN.format(action="os._exit(7)"), events=3, isolate=True)
    assert [r.outcome for r in rec.results] == ["success", "crash", "success"]
    assert rec.shape() == [
        "env.init.start@0", "env.init.end@0",
        "invoke.start@1", "respond.call@1", "respond.post@1", "invoke.end@1", "env.freeze@1",
        "invoke.start@2", "env.thaw@2",
        # Written by the supervisor after the process died:
        "respond.post@2", "invoke.end@2", "env.shutdown@2",
        "env.init.start@0", "env.init.end@0",
        "invoke.start@3", "respond.call@3", "respond.post@3", "invoke.end@3", "env.freeze@3",
        "env.shutdown@3",
    ]  # fmt: skip
    post = rec.of("respond.post")[1]
    assert post["error_message"].endswith("Runtime exited with error: exit status 7")
    shutdown = rec.of("env.shutdown")[0]
    assert (shutdown["reason"], shutdown["exit_code"]) == ("exit", 7)
    first_audit = rec.work_named_first("audit")
    assert first_audit in shutdown["lost"]
    # Work ids stay unique across the reset.
    ids = [e["work"] for e in rec.of("work.create")]
    assert len(ids) == len(set(ids))


def test_hung_handler_is_killed_at_the_deadline(tmp_path: Path) -> None:
    rec = record(
        tmp_path,
        PENDING_THEN.format(action="time.sleep(30)"),
        events=2,
        isolate=True,
        clock="wall",
        timeout_ns=300_000_000,
        watchdog_grace_s=0.5,
    )
    second = rec.results[1]
    assert (second.outcome, second.error_type) == ("timeout", "Sandbox.Timedout")
    assert second.error_message == "Task timed out after 0.30 seconds"
    shutdown = rec.of("env.shutdown")[0]
    assert shutdown["reason"] == "timeout" and shutdown["inv"] == 2


def test_reclaim_after_n_is_a_spindown(tmp_path: Path) -> None:
    rec = record(tmp_path, PENDING_THEN.format(action="pass"), events=3, reclaim_after=2)
    reasons = [(s["inv"], s["reason"]) for s in rec.of("env.shutdown")]
    assert reasons == [(2, "spindown"), (3, "end")]
    spindown = rec.of("env.shutdown")[0]
    audits = [e["work"] for e in rec.of("work.create") if e["name"] == "audit"]
    assert audits[1] in spindown["lost"]  # invocation 2's audit never ran
    assert [s["cold"] for s in rec.of("invoke.start")] == [True, False, True]
    assert rec.of("env.shutdown")[1]["lost"] == [audits[2]]


def test_a_crash_never_corrupts_the_trace(tmp_path: Path) -> None:
    record(tmp_path, PENDING_THEN.format(action="os.kill(os.getpid(), 9)"), events=2, isolate=True)
    _, events, diagnostics = read_events(tmp_path / "trace.jsonl", strict=True)
    assert diagnostics == []
    shutdown = next(e for e in events if e["kind"] == "env.shutdown")
    assert (shutdown["reason"], shutdown["exit_code"]) == ("crash", -9)
