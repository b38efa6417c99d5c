"""The scenario gallery: every example records, its committed trace is up to date, and the trace
shows the evidence its scenario is about (raw events; the findings too when the model has them)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lambda_trace.examples.catalog import BY_ID, PACKAGE_ROOT, SCENARIOS, Scenario
from lambda_trace.examples.record_all import record
from lambda_trace.model import load_trace
from lambda_trace.model.reader import read_events

TRACES = PACKAGE_ROOT / "traces"
STALE = "run `make traces` and commit the result"


PARAMS = [pytest.param(s, id=s.id) for s in SCENARIOS]


class Trace:
    """A recorded trace's events, with the look-ups the evidence checks need."""

    def __init__(self, path: Path) -> None:
        self.header, self.events, diagnostics = read_events(path, strict=True)
        assert diagnostics == []

    def of(self, kind: str, **match: Any) -> list[dict[str, Any]]:
        return [
            e
            for e in self.events
            if e["kind"] == kind and all(e.get(k) == v for k, v in match.items())
        ]

    def work(self, name: str) -> list[dict[str, Any]]:
        """work.create events of work called `name` (creation order)."""
        return self.of("work.create", name=name)

    def ran_in(self, work: int) -> list[int]:
        return sorted({e["inv"] for e in self.of("work.begin", work=work)})

    def crossed(self) -> list[dict[str, Any]]:
        """Work that ran (a work.begin) in an invocation after the one that created it."""
        return [
            w
            for w in self.of("work.create")
            if any(i > w["created_in"] for i in self.ran_in(w["work"]))
        ]

    def request_ids(self) -> dict[int, str]:
        return {e["inv"]: e["request_id"] for e in self.of("invoke.start")}


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every scenario recorded again, in-process (the same bytes as the child-process recording)."""
    folder = tmp_path_factory.mktemp("gallery")
    return {s.id: record(s, folder / s.trace_name, isolate=False) for s in SCENARIOS}


def trace(scenario_id: str) -> Trace:
    return Trace(TRACES / BY_ID[scenario_id].trace_name)


@pytest.mark.parametrize("scenario", PARAMS)
def test_committed_trace_is_up_to_date(scenario: Scenario, recorded: dict[str, Path]) -> None:
    committed = TRACES / scenario.trace_name
    assert committed.exists(), f"traces/{scenario.trace_name} is missing: {STALE}"
    assert recorded[scenario.id].read_bytes() == committed.read_bytes(), (
        f"traces/{scenario.trace_name} differs from a fresh recording of {scenario.handler}: {STALE}"
    )


@pytest.mark.parametrize("scenario", PARAMS)
def test_trace_holds_no_absolute_paths(scenario: Scenario) -> None:
    tr = trace(scenario.id)
    assert tr.header["handler"] == scenario.handler
    assert tr.header["created"] is None
    paths = [w["site"] for w in tr.of("work.create")]
    paths += [frame for w in tr.of("work.create") for frame in w["stack"]]
    paths += [frame for e in tr.of("error") for frame in e.get("stack", [])]
    for path in paths:
        assert not path.startswith("/") and "/" not in path.split(":")[0], path
    text = (TRACES / scenario.trace_name).read_text()
    assert str(PACKAGE_ROOT) not in text and str(Path.home()) not in text


def test_catalogue_is_consistent() -> None:
    categories = {
        "crossed_invocation", "pending_at_freeze", "lost", "dropped", "held_response",
        "timeout_keepalive", "error_misattributed", "log_misattributed", "kept_alive",
    }  # fmt: skip
    assert len(BY_ID) == len(SCENARIOS)
    for s in SCENARIOS:
        assert (PACKAGE_ROOT / s.handler.rpartition(":")[0]).exists()
        assert set(s.findings) <= categories, s.id
        assert "\n" not in s.title and s.story.count(". ") >= 1
        assert s.events and s.n >= 1


# -- the evidence each scenario is about --------------------------------------------------------


def evidence_succeed_pending_write(tr: Trace) -> None:
    write = tr.work("save_order")[0]
    assert write["created_in"] == 1
    assert write["work"] in tr.of("env.freeze", inv=1)[0]["pending"]
    assert tr.ran_in(write["work"]) == [1, 2]
    assert tr.of("respond.post", inv=1)[0]["via"] == "succeed"
    (log,) = tr.of("log", text="saved order 101")
    assert log["inv"] == 2 and log["request_id"] == tr.request_ids()[1]


def evidence_callback_held(tr: Trace) -> None:
    for post in tr.of("respond.post"):
        assert post["via"] == "callback" and post["held_ns"] >= 120_000_000
        write = tr.of("work.create", inv=post["inv"], name="save_order")[0]
        assert post["held_by"] == [write["work"]]
    assert all(f["pending"] == [] for f in tr.of("env.freeze"))
    assert tr.crossed() == []


def evidence_callback_no_wait_pool(tr: Trace) -> None:
    ids = tr.request_ids()
    for inv in (1, 2, 3):
        call, post = tr.of("respond.call", inv=inv)[0], tr.of("respond.post", inv=inv)[0]
        assert post["held_ns"] == 0 and post["ts"] == call["ts"]  # the open socket holds nothing
    audit = tr.work("write_audit")[0]
    assert audit["work"] in tr.of("env.freeze", inv=1)[0]["pending"]
    assert tr.ran_in(audit["work"]) == [1, 2]
    (log,) = tr.of("log", text="audit entry for order 101 written")
    assert (log["inv"], log["request_id"]) == (2, ids[1])
    # One pooled socket, opened in invocation 1, open across every freeze, never closed.
    (sock,) = [w for w in tr.of("work.create") if w["type"] == "io"]
    assert sock["created_in"] == 1
    assert all(sock["work"] in f["pending"] for f in tr.of("env.freeze"))
    assert tr.ran_in(sock["work"]) == [1, 2, 3]  # reused by every warm invocation
    assert tr.of("work.done", work=sock["work"]) == []


def evidence_interval_timeout(tr: Trace) -> None:
    assert [e["outcome"] for e in tr.of("invoke.end")] == ["timeout", "timeout"]
    assert [s["cold"] for s in tr.of("invoke.start")] == [True, True]
    for inv in (1, 2):
        call, post = tr.of("respond.call", inv=inv)[0], tr.of("respond.post", inv=inv)[0]
        assert call["via"] == "callback" and post["via"] is None
        assert post["error_type"] == "Sandbox.Timedout"
        assert post["ts"] - call["ts"] >= 990_000_000
        ticks = [w["work"] for w in tr.of("work.create", inv=inv) if w["name"].endswith("tick")]
        assert len(ticks) >= 4 and ticks[-1] in post["held_by"]
    assert [s["reason"] for s in tr.of("env.shutdown")] == ["timeout", "timeout"]


def evidence_open_socket_timeout(tr: Trace) -> None:
    assert [e["outcome"] for e in tr.of("invoke.end")] == ["timeout", "timeout"]
    for inv in (1, 2):
        post = tr.of("respond.post", inv=inv)[0]
        (sock,) = [w for w in tr.of("work.create", inv=inv) if w["type"] == "io"]
        assert sock["work"] in post["held_by"]
        assert post["error_message"] == "Task timed out after 1.00 seconds"
        (shutdown,) = tr.of("env.shutdown", inv=inv)
        assert shutdown["reason"] == "timeout" and sock["work"] in shutdown["lost"]
    # The callback came right after the 40 ms query; the wait was for the socket alone.
    call = tr.of("respond.call", inv=1)[0]
    assert 40_000_000 <= call["ts"] < 50_000_000


def evidence_gather_half(tr: Trace) -> None:
    assert tr.of("respond.post", inv=1)[0]["via"] == "succeed"
    by_name = {w["name"]: w["work"] for w in tr.of("work.name") if w["inv"] == 1}
    pending = tr.of("env.freeze", inv=1)[0]["pending"]
    for fast in ("lookup profile", "lookup cart"):
        assert by_name[fast] not in pending and tr.ran_in(by_name[fast]) == [1]
    for slow in ("lookup recommendations", "lookup history"):
        assert by_name[slow] in pending and tr.ran_in(by_name[slow]) == [1, 2]
    (warmed,) = tr.of("log", text="cache warmed for ada")
    assert warmed["inv"] == 2 and warmed["request_id"] == tr.request_ids()[1]


def evidence_leftover_rejection(tr: Trace) -> None:
    upload = tr.work("upload_audit")[0]
    (error,) = tr.of("error")
    assert (error["work"], error["billed"], error["fatal"]) == (upload["work"], 2, True)
    assert upload["created_in"] == 1 and error["type"] == "AuditServiceError"
    assert [e["outcome"] for e in tr.of("invoke.end")] == ["success", "crash", "success"]
    assert tr.of("env.shutdown")[0]["reason"] == "crash"
    assert tr.of("env.shutdown")[0]["exit_code"] == 128
    assert [s["cold"] for s in tr.of("invoke.start")] == [True, False, True]
    # Invocation 2's handler never ran: the runtime answered it with invocation 1's error.
    assert [w["created_in"] for w in tr.of("work.create", role="handler")] == [1, 3]


def evidence_fire_and_forget_http(tr: Trace) -> None:
    first, second, third = tr.work("send_analytics")
    assert tr.ran_in(first["work"]) == [1, 2]
    assert tr.of("log", text="POST https://analytics.example/events -> 202")[0]["inv"] == 2
    spindown = tr.of("env.shutdown", reason="spindown")[0]
    assert spindown["inv"] == 2 and second["work"] in spindown["lost"]
    assert tr.ran_in(second["work"]) == [2]  # started, never finished
    assert tr.of("invoke.start", inv=3)[0]["cold"]
    assert third["work"] in tr.of("env.shutdown", reason="end")[0]["lost"]


def evidence_metrics_flush(tr: Trace) -> None:
    flush = tr.work("MetricsClient.flush")[0]
    assert flush["created_in"] == 1 and flush["work"] in tr.of("env.freeze", inv=1)[0]["pending"]
    assert tr.ran_in(flush["work"]) == [1, 2]
    ids = tr.request_ids()
    logs = [(e["text"], e["inv"], e["request_id"]) for e in tr.of("log", work=flush["work"])]
    assert logs == [
        ("sent batch 1/3 (2 points)", 2, ids[1]),
        ("sent batch 2/3 (2 points)", 2, ids[2]),  # tagged as invocation 2's own output
        ("sent batch 3/3 (1 points)", 2, ids[2]),
    ]


def evidence_pool_idle_timer(tr: Trace) -> None:
    assert tr.of("env.thaw")[0]["frozen_ns"] == 10_000_000_000
    timer = tr.work("Connection.idle_timeout")[0]
    sock = next(w for w in tr.of("work.create") if w["type"] == "io")
    assert timer["created_in"] == 1 and timer["delay_ns"] == 5_000_000_000
    assert {timer["work"], sock["work"]} <= set(tr.of("env.freeze", inv=1)[0]["pending"])
    # After the thaw, before invocation 2's handler: the timer fires and the socket is closed.
    assert tr.ran_in(timer["work"]) == [2]
    thaw = tr.of("env.thaw", inv=2)[0]["seq"]
    handler2 = tr.of("work.create", inv=2, role="handler")[0]["seq"]
    closed = tr.of("work.done", work=sock["work"])[0]
    assert thaw < closed["seq"] < handler2 and closed["inv"] == 2
    end = tr.of("invoke.end", inv=2)[0]
    assert (end["outcome"], end["error_type"]) == ("error", "ConnectionClosedError")
    assert tr.of("invoke.end", inv=3)[0]["outcome"] == "success"  # reconnected


def evidence_clock_jump_interval(tr: Trace) -> None:
    renewals = tr.work("LeaseRenewer.renew_lease")
    assert renewals[0]["created_in"] == 1
    assert all(w["created_in"] == 1 for w in renewals)  # timers re-armed by timers inherit it
    burst = [e for e in tr.of("log", inv=2) if e["text"].startswith("lease renewed")]
    assert len(burst) >= 9  # every tick missed during the 10 s freeze
    assert burst[0]["text"] == "lease renewed (9050 ms late)"
    health = [e["text"] for e in tr.of("log", inv=2) if e["text"].startswith("health")]
    assert health == ["health ok (previous report 10.1 s ago)"]  # one late tick


def evidence_node24_migration(tr: Trace) -> None:
    assert tr.header["profile"] == "node24"
    assert all(f["pending"] == [] for f in tr.of("env.freeze"))
    for inv in (1, 2, 3):
        post = tr.of("respond.post", inv=inv)[0]
        assert (post["via"], post["status"], post["held_ns"]) == ("awaitable", "success", 0)
        (log,) = [e for e in tr.of("log", inv=inv) if e["text"].startswith("saved order")]
        assert log["text"] == f"saved order {100 + inv}" and log["ts"] < post["ts"]
    assert tr.crossed() == []


def evidence_node24_callback_rejected(tr: Trace) -> None:
    inits = tr.of("env.init.end")
    assert len(inits) == 2 and not any(i["ok"] for i in inits)
    assert {i["error_type"] for i in inits} == {"Runtime.CallbackHandlerDeprecated"}
    assert [e["outcome"] for e in tr.of("invoke.end")] == ["error", "error"]
    assert [s["reason"] for s in tr.of("env.shutdown")] == ["init_error", "init_error"]
    assert tr.of("work.create", role="handler") == []  # the handler never ran


def evidence_python_thread_timer(tr: Trace) -> None:
    (thread, *_) = [w for w in tr.of("work.create") if w["type"] == "thread"]
    assert thread["created_in"] == 1
    assert thread["work"] in tr.of("env.freeze", inv=1)[0]["pending"]
    assert 2 in tr.ran_in(thread["work"])
    (log,) = tr.of("log", text="receipt for order 101 sent")
    assert log["inv"] == 2


def evidence_python_asyncio_run_drop(tr: Trace) -> None:
    for inv, task in enumerate(tr.work("send_analytics"), 1):
        (done,) = tr.of("work.done", work=task["work"])
        assert (done["status"], done["inv"]) == ("cancelled", inv)
        assert task["work"] not in tr.of("env.freeze", inv=inv)[0]["pending"]
    assert not [e for e in tr.of("log") if e["text"].startswith("analytics")]


def evidence_python_module_loop(tr: Trace) -> None:
    audit = tr.work("write_audit")[0]
    assert audit["work"] in tr.of("env.freeze", inv=1)[0]["pending"]
    assert tr.ran_in(audit["work"]) == [1, 2]
    (log,) = tr.of("log", text="audit entry for order 101 written")
    assert log["inv"] == 2


EVIDENCE: dict[str, Callable[[Trace], None]] = {
    name.removeprefix("evidence_"): fn
    for name, fn in list(globals().items())
    if name.startswith("evidence_")
}


@pytest.mark.parametrize("scenario", PARAMS)
def test_trace_shows_the_scenario(scenario: Scenario) -> None:
    assert scenario.id in EVIDENCE, f"no evidence check for {scenario.id}"
    EVIDENCE[scenario.id](trace(scenario.id))


@pytest.mark.parametrize("scenario", PARAMS)
def test_trace_has_the_expected_findings(scenario: Scenario) -> None:
    found = {f.category for f in load_trace(TRACES / scenario.trace_name).findings}
    expected = set(scenario.findings)
    assert found == expected, (
        f"{scenario.id}: missing {sorted(expected - found)}, unexpected {sorted(found - expected)}"
    )
