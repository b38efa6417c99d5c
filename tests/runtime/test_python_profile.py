"""Python profile (awslambdaric): each row of SEMANTICS.md's Python section."""

from __future__ import annotations

from pathlib import Path

from tests.runtime.helpers import record


def test_return_value_posted_at_once_and_frozen_at_once(tmp_path: Path) -> None:
    rec = record(
        tmp_path,
        """
def handler(event, context):
    return {"n": event["n"]}
""",
        profile="python",
        events=1,
    )
    assert rec.shape() == [
        "env.init.start@0", "env.init.end@0", "invoke.start@1", "respond.call@1",
        "respond.post@1", "invoke.end@1", "env.freeze@1", "env.shutdown@1",
    ]  # fmt: skip
    # Nothing runs between the post and the freeze: the runtime asks for /next at once.
    assert rec.between("invoke.end", "env.freeze") == []
    assert rec.of("respond.post")[0]["via"] == "return"
    assert rec.results[0].result == {"n": 0}


def test_threads_run_until_the_freeze_and_resume_after_the_thaw(tmp_path: Path) -> None:
    rec = record(
        tmp_path,
        """
import threading

def later(n):
    print("receipt", n)

def handler(event, context):
    threading.Timer(0.5, later, args=(event["n"],)).start()
    return "ok"
""",
        profile="python",
        events=2,
    )
    timer = rec.of("work.create")[1]
    assert (timer["type"], timer["name"], timer["created_in"]) == ("thread", "Timer later", 1)
    assert timer["work"] in rec.of("env.freeze")[0]["pending"]
    # Suspended by the freeze, resumed by the thaw, fired in invocation 2.
    kinds = [e["kind"] for e in rec.events if e.get("work") == timer["work"]]
    assert kinds == [
        "work.create",
        "work.begin",
        "work.end",
        "work.begin",
        "log",
        "work.end",
        "work.done",
    ]
    assert rec.ran_in(timer["work"]) == [1, 2]
    log = rec.of("log")[0]
    assert (log["text"], log["inv"], log["request_id"]) == (
        "receipt 0", 2, rec.of("invoke.start")[0]["request_id"]
    )  # fmt: skip


def test_asyncio_run_cancels_leftover_tasks_and_drops_timers(tmp_path: Path) -> None:
    rec = record(
        tmp_path,
        """
import asyncio

async def send_metrics():
    await asyncio.sleep(1)

def flush():
    pass

async def main():
    asyncio.create_task(send_metrics())   # fire and forget
    asyncio.get_running_loop().call_later(2, flush)
    await asyncio.sleep(0.01)
    return "ok"

def handler(event, context):
    return asyncio.run(main())
""",
        profile="python",
        events=1,
    )
    task, timer = rec.work_named("send_metrics"), rec.work_named("flush")
    cancels = {e["work"]: e["reason"] for e in rec.of("work.cancel")}
    assert cancels == {task["work"]: "asyncio.run teardown", timer["work"]: "loop closed"}
    done = {e["work"]: e["status"] for e in rec.of("work.done")}
    assert done[task["work"]] == done[timer["work"]] == "cancelled"
    # Nothing leaks, but work was dropped, and before the response.
    assert rec.of("env.freeze")[0]["pending"] == []
    assert rec.of("work.done")[-1]["seq"] < rec.of("respond.post")[0]["seq"]
    # asyncio's own housekeeping tasks are not the handler's work.
    assert not [e for e in rec.of("work.create") if "shutdown_" in e["name"]]


def test_module_level_loop_leaks_into_the_next_run_until_complete(tmp_path: Path) -> None:
    rec = record(
        tmp_path,
        """
import asyncio

loop = asyncio.new_event_loop()

async def audit(n):
    await asyncio.sleep(0.2)
    print("audited", n)

async def main(n):
    loop.create_task(audit(n))
    await asyncio.sleep(0.01)

def handler(event, context):
    loop.run_until_complete(main(event["n"]))
    return "ok"
""",
        profile="python",
        events=2,
    )
    audit1 = rec.of("work.create")[2]
    assert (audit1["name"], audit1["created_in"]) == ("audit", 1)
    assert audit1["work"] in rec.of("env.freeze")[0]["pending"]
    assert rec.ran_in(audit1["work"]) == [1, 2]
    log = rec.of("log")[0]
    assert (log["text"], log["inv"], log["work"]) == ("audited 0", 2, audit1["work"])


def test_thread_exception_prints_and_does_not_fail(tmp_path: Path) -> None:
    rec = record(
        tmp_path,
        """
import threading

def boom():
    raise ValueError("thread failed")

def handler(event, context):
    t = threading.Thread(target=boom)
    t.start()
    t.join()
    return "ok"
""",
        profile="python",
        events=1,
    )
    assert rec.results[0].outcome == "success"
    thread = rec.work_named("Thread boom")
    done = next(e for e in rec.of("work.done") if e["work"] == thread["work"])
    assert (done["status"], done["error_type"]) == ("error", "ValueError")
    printed = "\n".join(e["text"] for e in rec.of("log") if e["stream"] == "stderr")
    assert "ValueError: thread failed" in printed


def test_context_has_no_node_methods_and_clamps_remaining_time(tmp_path: Path) -> None:
    rec = record(
        tmp_path,
        """
import time

def handler(event, context):
    if event["n"] == 0:
        context.succeed("x")
    return context.get_remaining_time_in_millis()
""",
        profile="python",
        events=2,
        timeout_ns=2_000_000_000,
    )
    first, second = rec.results
    assert (first.outcome, first.error_type) == ("error", "AttributeError")
    assert "'succeed'" in (first.error_message or "")
    assert second.outcome == "success" and 0 <= second.result <= 2000


def test_async_handler_is_a_marshal_error(tmp_path: Path) -> None:
    rec = record(
        tmp_path,
        """
async def handler(event, context):
    return "never awaited"
""",
        profile="python",
        events=1,
    )
    assert rec.results[0].error_type == "Runtime.MarshalError"
    assert "coroutine is not JSON serializable" in (rec.results[0].error_message or "")
