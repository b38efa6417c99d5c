"""Node 24 profile (nodejs24.x): each row of SEMANTICS.md's Node 24 section, and how the same
handler differs between `node` and `node24`."""

from __future__ import annotations

from pathlib import Path

from tests.runtime.helpers import record


def test_three_parameter_handler_fails_init(tmp_path: Path) -> None:
    rec = record(
        tmp_path,
        """
def handler(event, context, callback):
    callback(None, "ok")
""",
        profile="node24",
        events=1,
    )
    init = rec.of("env.init.end")[0]
    assert (init["ok"], init["error_type"]) == (False, "Runtime.CallbackHandlerDeprecated")
    assert init["error_message"].startswith(
        "AWS Lambda has removed support for callback-based function handlers starting with Node.js 24"
    )
    assert rec.shape() == [
        "env.init.start@0", "env.init.end@0", "invoke.start@1", "respond.post@1",
        "invoke.end@1", "env.shutdown@1",
    ]  # fmt: skip
    assert rec.of("env.shutdown")[0]["reason"] == "init_error"


def test_context_has_no_succeed_or_flag(tmp_path: Path) -> None:
    rec = record(
        tmp_path,
        """
async def handler(event, context):
    for name in ("succeed", "fail", "done", "callbackWaitsForEmptyEventLoop",
                 "callback_waits_for_empty_event_loop"):
        assert not hasattr(context, name), name
    return context.awsRequestId
""",
        profile="node24",
        events=1,
    )
    assert rec.results[0].outcome == "success", rec.results[0].error_message
    assert rec.results[0].result == rec.of("invoke.start")[0]["request_id"]


def test_awaited_value_posted_one_turn_later_then_frozen(tmp_path: Path) -> None:
    rec = record(
        tmp_path,
        """
import asyncio

def second():
    print("second")

def first():
    asyncio.get_running_loop().call_soon(second)

async def handler(event, context):
    asyncio.get_running_loop().call_soon(first)
    return "value"
""",
        profile="node24",
        events=1,
    )
    # respond.call when the promise settles; the post one turn later (`second`, scheduled in the
    # settling turn, runs in between);
    # the freeze right after the post.
    between = rec.between("respond.call", "respond.post")
    assert "work.begin" in between
    assert rec.between("invoke.end", "env.freeze") == []
    assert rec.of("respond.post")[0]["via"] == "awaitable"


def test_unhandled_error_in_the_same_turn_kills_before_the_response(tmp_path: Path) -> None:
    rec = record(
        tmp_path,
        """
import asyncio

async def boom():
    raise RuntimeError("background failure")

async def handler(event, context):
    asyncio.get_running_loop().create_task(boom())
    await asyncio.sleep(0)
    return "never posted"
""",
        profile="node24",
        events=2,
    )
    first = rec.results[0]
    assert (first.outcome, first.error_type, first.exit_code) == ("crash", "RuntimeError", 1)
    # The handler returned in the very turn the task failed: the process died first.
    handler = next(e for e in rec.of("work.create") if e.get("role") == "handler")
    assert {"work": handler["work"], "status": "ok"}.items() <= rec.of("work.done")[1].items()
    post = rec.of("respond.post")[0]
    assert (post["via"], post["error_type"]) == (None, "RuntimeError")
    assert next(s["reason"] for s in rec.of("env.shutdown")) == "crash"
    assert rec.of("invoke.start")[1]["cold"]


def test_promise_that_never_settles_is_exit_error(tmp_path: Path) -> None:
    rec = record(
        tmp_path,
        """
import asyncio

async def handler(event, context):
    await asyncio.get_running_loop().create_future()
""",
        profile="node24",
        events=1,
    )
    r = rec.results[0]
    assert (r.outcome, r.error_type, r.exit_code) == ("crash", "Runtime.ExitError", 0)
    assert r.error_message.endswith("Runtime exited with error: exit status 0")
    assert rec.of("env.shutdown")[0]["reason"] == "exit"


SAME_HANDLER = """
import asyncio

async def audit(n):
    await asyncio.sleep(0.05)

def second():
    pass

def first():
    asyncio.get_running_loop().call_soon(second)

async def handler(event, context):
    loop = asyncio.get_running_loop()
    loop.create_task(audit(event["n"]))
    loop.call_soon(first)  # marks the loop turns: `second` runs in the turn after settling
    return "ok"
"""


def test_same_handler_under_node_and_node24(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    node = record(tmp_path / "a", SAME_HANDLER, profile="node", events=2)
    node24 = record(tmp_path / "b", SAME_HANDLER, profile="node24", events=2)
    # Both answer with the awaited value and leak the audit into the next invocation...
    for rec in (node, node24):
        assert [r.result for r in rec.results] == ["ok", "ok"]
        assert rec.ran_in(rec.work_named_first("audit")) == [1, 2]
    # ...but node posts as soon as the promise settles and freezes one turn later, while node24
    # posts one turn later and freezes right after: `second` lands on either side of the post.
    assert node.between("respond.call", "respond.post") == []
    assert node.between("invoke.end", "env.freeze") == ["work.begin", "work.end", "work.done"]
    assert node24.between("respond.call", "respond.post") == [
        "work.begin", "work.end", "work.done"
    ]  # fmt: skip
    assert node24.between("invoke.end", "env.freeze") == []
