"""One test per row of SEMANTICS.md's Node table: the exact order of events each row produces."""

from __future__ import annotations

from pathlib import Path

from tests.runtime.helpers import record

# A fake DB write: 50 ms of latency on the loop, like a real client's round trip.
DB = """
import asyncio

async def write(item):
    await asyncio.sleep(0.05)
    print("wrote", item)
"""

ONE_INVOCATION = [
    "env.init.start@0", "env.init.end@0", "invoke.start@1", "respond.call@1",
    "respond.post@1", "invoke.end@1", "env.freeze@1",
]  # fmt: skip


def test_callback_flag_true_holds_response_until_loop_empty(tmp_path: Path) -> None:
    rec = record(
        tmp_path,
        DB
        + """
def handler(event, context, callback):
    asyncio.get_event_loop().create_task(write(1))
    callback(None, {"ok": True})
""",
        events=1,
    )
    assert rec.shape()[:7] == ONE_INVOCATION
    write = rec.work_named("write")["work"]
    # The write ran to completion *between* respond.call and respond.post: the answer was held.
    held = rec.between("respond.call", "respond.post")
    assert held.count("work.begin") >= 2 and "log" in held
    post = rec.of("respond.post")[0]
    assert post["via"] == "callback" and post["status"] == "success"
    assert post["held_ns"] >= 50_000_000 and write in post["held_by"]
    # Posted one turn after the loop emptied, frozen right after the post: nothing in between.
    assert rec.between("invoke.end", "env.freeze") == []
    assert rec.of("env.freeze")[0]["pending"] == []


def test_callback_flag_false_posts_at_once_and_leaks(tmp_path: Path) -> None:
    rec = record(
        tmp_path,
        DB
        + """
def handler(event, context, callback):
    context.callbackWaitsForEmptyEventLoop = False
    asyncio.get_event_loop().create_task(write(event["n"]))
    callback(None, "done")
""",
    )
    write1 = rec.of("work.create")[1]
    assert write1["name"] == "write" and write1["created_in"] == 1
    # Posted inside the callback call: respond.call, respond.post, invoke.end back to back.
    assert rec.between("respond.call", "invoke.end") == ["respond.post"]
    assert rec.of("respond.post")[0]["held_ns"] == 0
    # One loop turn after the post, the freeze: the write is pending and runs in invocation 2.
    assert write1["work"] in rec.of("env.freeze")[0]["pending"]
    assert rec.ran_in(write1["work"]) == [1, 2]
    log = rec.of("log")[0]
    assert log["text"] == "wrote 0" and log["inv"] == 2


def test_callback_error_posts_at_once_whatever_the_flag(tmp_path: Path) -> None:
    rec = record(
        tmp_path,
        DB
        + """
def handler(event, context, callback):
    asyncio.get_event_loop().create_task(write(1))
    callback(ValueError("bad input"))
""",
        events=1,
    )
    assert rec.shape()[:7] == ONE_INVOCATION
    post = rec.of("respond.post")[0]
    assert (post["status"], post["error_type"], post["error_message"]) == (
        "error", "ValueError", "bad input"
    )  # fmt: skip
    assert post["held_ns"] == 0
    assert rec.results[0].outcome == "error"
    assert rec.work_named("write")["work"] in rec.of("env.freeze")[0]["pending"]


def test_succeed_fail_done_post_at_once_and_ignore_the_flag(tmp_path: Path) -> None:
    rec = record(
        tmp_path,
        DB
        + """
def handler(event, context):
    context.callbackWaitsForEmptyEventLoop = True
    asyncio.get_event_loop().create_task(write(event["n"]))
    if event["n"] == 0:
        context.succeed("ok")
    elif event["n"] == 1:
        context.fail()
    else:
        context.done(None, "fine")
""",
        events=3,
    )
    posts = rec.of("respond.post")
    assert [(p["via"], p["status"], p["held_ns"]) for p in posts] == [
        ("succeed", "success", 0), ("fail", "error", 0), ("done", "success", 0),
    ]  # fmt: skip
    # fail() without an argument: errorType "string", errorMessage "handled".
    assert (posts[1]["error_type"], posts[1]["error_message"]) == ("string", "handled")
    for freeze in rec.of("env.freeze"):
        assert len(freeze["pending"]) == 1  # every write leaked past its freeze
    assert rec.between("respond.call", "invoke.end") == ["respond.post"]


def test_async_handler_posts_when_it_settles_flag_irrelevant(tmp_path: Path) -> None:
    rec = record(
        tmp_path,
        DB
        + """
async def handler(event, context):
    context.callbackWaitsForEmptyEventLoop = True
    asyncio.get_running_loop().create_task(write(event["n"]))
    await asyncio.sleep(0.01)
    return {"n": event["n"]}
""",
    )
    handler = [e for e in rec.of("work.create") if e.get("role") == "handler"]
    assert [h["type"] for h in handler] == ["task", "task"]
    call = rec.of("respond.call")[0]
    assert call["via"] == "awaitable" and call["accepted"]
    assert rec.between("respond.call", "invoke.end") == ["respond.post"]
    # The write (50 ms) outlives the handler (10 ms): pending at the freeze, finished in #2.
    write1 = rec.of("work.create")[1]["work"]
    assert write1 in rec.of("env.freeze")[0]["pending"]
    assert rec.ran_in(write1) == [1, 2]


def test_awaitable_and_callback_first_wins(tmp_path: Path) -> None:
    rec = record(
        tmp_path,
        """
import asyncio

async def handler(event, context, callback):
    if event["n"] == 0:
        callback(None, "from callback")
        return "from promise"
    loop = asyncio.get_running_loop()
    loop.call_later(0.5, callback, None, "late callback")
    return "from promise"
""",
        events=3,
    )
    calls = [(c["inv"], c["via"], c["accepted"]) for c in rec.of("respond.call")]
    assert calls[0] == (1, "callback", True)
    assert (1, "awaitable", False) in calls  # the promise came second: ignored
    assert (2, "awaitable", True) in calls
    # Invocation 2's stale callback fires after the thaw, inside invocation 3: a no-op.
    assert (3, "callback", False) in calls
    assert [p["via"] for p in rec.of("respond.post")] == ["callback", "awaitable", "awaitable"]


def test_synchronous_throw_posts_error_at_once(tmp_path: Path) -> None:
    rec = record(
        tmp_path,
        DB
        + """
def handler(event, context, callback):
    asyncio.get_event_loop().create_task(write(1))
    raise KeyError("missing")
""",
        events=1,
    )
    assert rec.shape()[:7] == ONE_INVOCATION
    call, post = rec.of("respond.call")[0], rec.of("respond.post")[0]
    assert call["via"] == "throw" and post["error_type"] == "KeyError"
    assert rec.work_named("write")["work"] in rec.of("env.freeze")[0]["pending"]


def test_two_argument_sync_handler_value_ignored_null_when_loop_empty(tmp_path: Path) -> None:
    rec = record(
        tmp_path,
        DB
        + """
def handler(event, context):
    asyncio.get_event_loop().create_task(write(1))
    return {"ignored": True}
""",
        events=1,
    )
    assert rec.of("respond.call") == []
    post = rec.of("respond.post")[0]
    assert post["via"] == "return" and post["status"] == "success"
    assert post["result_size"] == 4  # "null": the returned value was ignored
    # Posted only once the write had finished and the loop was empty.
    assert rec.of("work.done")[-1]["work"] == rec.work_named("write")["work"]
    assert rec.of("env.freeze")[0]["pending"] == []


def test_async_handler_never_settles_is_nodejs_exit(tmp_path: Path) -> None:
    rec = record(
        tmp_path,
        """
import asyncio

async def handler(event, context):
    await asyncio.get_running_loop().create_future()  # nobody resolves it
""",
        events=1,
    )
    post = rec.of("respond.post")[0]
    assert (post["via"], post["error_type"]) == (None, "Runtime.NodeJsExit")
    assert rec.results[0].outcome == "error"
    handler = next(e for e in rec.of("work.create") if e.get("role") == "handler")
    assert handler["work"] in rec.of("env.freeze")[0]["pending"]


def test_sync_handler_never_calls_back_posts_null(tmp_path: Path) -> None:
    rec = record(
        tmp_path,
        """
def handler(event, context, callback):
    pass
""",
        events=1,
    )
    post = rec.of("respond.post")[0]
    assert (post["via"], post["status"], post["result_size"]) == (None, "success", 4)
    assert rec.shape()[:7] == [k for k in ONE_INVOCATION if k != "respond.call@1"] + [
        "env.shutdown@1"
    ]


def test_callback_twice_second_ignored(tmp_path: Path) -> None:
    rec = record(
        tmp_path,
        """
def handler(event, context, callback):
    context.callbackWaitsForEmptyEventLoop = False
    callback(None, "first")
    callback(None, "second")
""",
        events=1,
    )
    calls = [(c["via"], c["accepted"]) for c in rec.of("respond.call")]
    assert calls == [("callback", True), ("callback", False)]
    assert len(rec.of("respond.post")) == 1
    assert rec.results[0].result == "first"


def test_unref_timer_does_not_hold_the_response(tmp_path: Path) -> None:
    rec = record(
        tmp_path,
        """
import asyncio
import lambda_trace

def flush():
    print("flushed")

def handler(event, context, callback):
    timer = asyncio.get_event_loop().call_later(0.2, flush)
    lambda_trace.unref(timer)
    callback(None, "ok")
""",
        events=2,
    )
    post = rec.of("respond.post")[0]
    assert post["held_ns"] < 1_000_000  # not the 200 ms of the unref'd timer
    timer = rec.of("work.create")[1]
    assert timer["name"] == "flush"
    assert rec.of("work.ref")[0] == {**rec.of("work.ref")[0], "work": timer["work"], "ref": False}
    assert timer["work"] in rec.of("env.freeze")[0]["pending"]
    assert rec.ran_in(timer["work"]) == [2]
