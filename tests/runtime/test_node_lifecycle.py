"""Node profile: errors after the response, thaw order, timeouts, resets, logs and the context."""

from __future__ import annotations

from pathlib import Path

from tests.runtime.helpers import record

LEFTOVER_ERROR = """
import asyncio

def explode():
    raise RuntimeError("late failure from invocation 1")

def handler(event, context):
    if event["n"] == 0:
        asyncio.get_event_loop().call_later(0.5, explode)
    context.succeed("ok")
"""


def test_error_after_response_fails_the_next_invocation_and_resets(tmp_path: Path) -> None:
    rec = record(tmp_path, LEFTOVER_ERROR, events=3)
    assert rec.shape() == [
        "env.init.start@0", "env.init.end@0",
        "invoke.start@1", "respond.call@1", "respond.post@1", "invoke.end@1", "env.freeze@1",
        # The timer of invocation 1 fires right after the thaw and is billed to invocation 2.
        "invoke.start@2", "env.thaw@2", "error@2", "respond.post@2", "invoke.end@2",
        "env.shutdown@2",
        # The environment was reset: invocation 3 is a cold start.
        "env.init.start@0", "env.init.end@0",
        "invoke.start@3", "respond.call@3", "respond.post@3", "invoke.end@3", "env.freeze@3",
        "env.shutdown@3",
    ]  # fmt: skip
    error = rec.of("error")[0]
    timer = rec.work_named("explode")
    assert (error["type"], error["work"], error["billed"], error["fatal"]) == (
        "RuntimeError", timer["work"], 2, True
    )  # fmt: skip
    assert timer["created_in"] == 1
    shutdown = rec.of("env.shutdown")[0]
    assert (shutdown["reason"], shutdown["exit_code"]) == ("crash", 129)
    assert [r.outcome for r in rec.results] == ["success", "crash", "success"]
    assert [s["cold"] for s in rec.of("invoke.start")] == [True, False, True]
    # The handler of invocation 2 never ran: the runtime answered with the error.
    assert rec.of("respond.post")[1]["error_type"] == "RuntimeError"


def test_unhandled_rejection_exits_128(tmp_path: Path) -> None:
    rec = record(
        tmp_path,
        """
import asyncio

async def failing():
    await asyncio.sleep(0.1)
    raise ValueError("rejected")

def handler(event, context):
    asyncio.get_event_loop().create_task(failing())
    context.succeed("ok")
""",
        events=2,
    )
    error = rec.of("error")[0]
    assert (error["type"], error["billed"]) == ("ValueError", 2)
    assert rec.of("env.shutdown")[0]["exit_code"] == 128


def test_thaw_order_timers_first_logs_under_the_old_request_id(tmp_path: Path) -> None:
    source = """
import asyncio

def tick():
    print("tick")

def handler(event, context):
    if event["n"] == 0:
        asyncio.get_event_loop().call_later(0.3, tick)
    print("handler", event["n"])
    context.succeed("ok")
"""
    rec = record(tmp_path, source, events=2)
    ids = [s["request_id"] for s in rec.of("invoke.start")]
    logs = [(e["text"], e["inv"], e["request_id"]) for e in rec.of("log")]
    # The overdue timer runs before the handler, in invocation 2, tagged with invocation 1's id.
    assert logs == [("handler 0", 1, ids[0]), ("tick", 2, ids[0]), ("handler 1", 2, ids[1])]

    other = tmp_path / "b"
    other.mkdir()
    rec = record(other, source, events=2, thaw_order="handler-first")
    logs = [(e["text"], e["inv"], e["request_id"]) for e in rec.of("log")]
    ids = [s["request_id"] for s in rec.of("invoke.start")]
    assert logs == [("handler 0", 1, ids[0]), ("handler 1", 2, ids[1]), ("tick", 2, ids[1])]


def test_open_socket_makes_callback_time_out(tmp_path: Path) -> None:
    rec = record(
        tmp_path,
        """
import asyncio
import socket

db = None

async def connect():
    global db
    a, b = socket.socketpair()
    db = await asyncio.open_connection(sock=a)
    db = (db, b)  # keep the peer open: the connection stays up

def handler(event, context, callback):
    asyncio.get_event_loop().create_task(connect())
    callback(None, "done")
""",
        events=2,
        timeout_ns=1_000_000_000,
    )
    assert rec.shape() == [
        "env.init.start@0", "env.init.end@0",
        "invoke.start@1", "respond.call@1", "respond.post@1", "invoke.end@1", "env.shutdown@1",
        "env.init.start@0", "env.init.end@0",
        "invoke.start@2", "respond.call@2", "respond.post@2", "invoke.end@2", "env.shutdown@2",
    ]  # fmt: skip
    post = rec.of("respond.post")[0]
    assert (post["via"], post["error_type"], post["error_message"]) == (
        None, "Sandbox.Timedout", "Task timed out after 1.00 seconds"
    )  # fmt: skip
    sockets = [e["work"] for e in rec.of("work.create") if e["type"] == "io"]
    assert sockets and sockets[0] in post["held_by"]
    assert rec.of("respond.call")[0]["ts"] < post["ts"] - 900_000_000
    shutdown = rec.of("env.shutdown")[0]
    assert shutdown["reason"] == "timeout" and sockets[0] in shutdown["lost"]
    assert [r.outcome for r in rec.results] == ["timeout", "timeout"]
    assert [s["cold"] for s in rec.of("invoke.start")] == [True, True]


def test_context_fields_and_node_spellings(tmp_path: Path) -> None:
    rec = record(
        tmp_path,
        """
def handler(event, context):
    assert context.awsRequestId == context.aws_request_id
    assert context.functionName == context.function_name == "app"
    assert context.invoked_function_arn.endswith(":function:app")
    assert context.memoryLimitInMB == 128
    assert context.log_group_name == "/aws/lambda/app"
    assert 0 < context.getRemainingTimeInMillis() <= 3000
    assert context.callbackWaitsForEmptyEventLoop is True
    context.callbackWaitsForEmptyEventLoop = False
    assert context.callback_waits_for_empty_event_loop is False
    context.succeed(context.function_version)
""",
        events=1,
    )
    assert rec.results[0].outcome == "success", rec.results[0].error_message
    assert rec.results[0].result == "$LATEST"


def test_init_exception_is_a_failed_init_not_a_traceback(tmp_path: Path) -> None:
    rec = record(
        tmp_path,
        """
raise RuntimeError("config missing")

def handler(event, context):
    pass
""",
        events=2,
    )
    init_end = rec.of("env.init.end")[0]
    assert (init_end["ok"], init_end["error_type"], init_end["error_message"]) == (
        False, "RuntimeError", "config missing"
    )  # fmt: skip
    assert [r.outcome for r in rec.results] == ["error", "error"]
    assert [s["reason"] for s in rec.of("env.shutdown")] == ["init_error", "init_error"]


def test_module_level_work_is_created_in_invocation_0(tmp_path: Path) -> None:
    rec = record(
        tmp_path,
        """
import asyncio

def warm():
    print("warmed")

asyncio.get_event_loop().call_later(0.1, warm)

def handler(event, context, callback):
    callback(None, "ok")
""",
        events=1,
    )
    timer = rec.work_named("warm")
    assert (timer["inv"], timer["created_in"]) == (0, 0)
    assert rec.ran_in(timer["work"]) == [1]  # held the first response, as in Node


def test_time_keeps_running_while_frozen(tmp_path: Path) -> None:
    rec = record(
        tmp_path,
        """
import asyncio
import time

async def measure():
    loop = asyncio.get_running_loop()
    start = loop.time()
    await asyncio.sleep(0.2)
    print(f"slept {loop.time() - start:.1f}")

async def handler(event, context):
    if event["n"] == 0:
        asyncio.get_running_loop().create_task(measure())
        await asyncio.sleep(0.19)  # the answer goes out just before the 0.2 s sleep ends
    return "ok"
""",
        events=2,
        freeze_for_ns=1_000_000_000,
    )
    # A 0.2 s sleep spanning a 1 s freeze measures about 1.2 s, and fires right after the thaw.
    log = rec.of("log")[0]
    assert (log["text"], log["inv"]) == ("slept 1.2", 2)
    thaw = rec.of("env.thaw")[0]
    assert log["ts"] - thaw["ts"] < 1_000_000
