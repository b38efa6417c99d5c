"""Replay's pure index: running work, freezes and thaws at any event, checkpoints or not."""

from __future__ import annotations

import pytest

from lambda_trace.model import replay
from lambda_trace.model.load import load_trace
from lambda_trace.model.replay import ReplayIndex
from lambda_trace.model.trace import Trace
from tests.tui.conftest import LEAKY


@pytest.fixture(scope="module")
def leaky() -> Trace:
    return load_trace(LEAKY)


def brute_running(trace: Trace, i: int) -> frozenset[int]:
    running: set[int] = set()
    for j in range(i + 1):
        kind = trace.events.kind_name(j)
        if kind == "work.begin":
            running.add(trace.events.work[j])
        elif kind in ("work.end", "work.done"):
            running.discard(trace.events.work[j])
    return frozenset(running)


@pytest.mark.parametrize("checkpoint", [1024, 7, 1])
def test_running_at_matches_replaying_from_the_start(
    leaky: Trace, monkeypatch: pytest.MonkeyPatch, checkpoint: int
) -> None:
    monkeypatch.setattr(replay, "CHECKPOINT", checkpoint)
    index = ReplayIndex(leaky)
    for i in range(len(leaky.events)):
        assert index.running_at(i) == brute_running(leaky, i), i


def test_freezes_and_thaws_in_order(leaky: Trace) -> None:
    index = ReplayIndex(leaky)
    kinds = [leaky.events.kind_name(i) for i in index.freeze_thaw]
    assert kinds == ["env.freeze", "env.thaw", "env.freeze", "env.thaw", "env.freeze"]
    first_freeze = index.freeze_thaw[0]
    assert index.next_freeze_or_thaw(0) == first_freeze
    assert index.next_freeze_or_thaw(first_freeze) == index.freeze_thaw[1]
    assert index.previous_freeze_or_thaw(first_freeze) is None
    assert index.next_freeze_or_thaw(index.freeze_thaw[-1]) is None
    assert not index.frozen_after(first_freeze - 1)
    assert index.frozen_after(first_freeze)
    assert not index.frozen_after(index.freeze_thaw[1])


def test_moment_at_the_first_freeze(leaky: Trace) -> None:
    index = ReplayIndex(leaky)
    m = index.moment(index.freeze_thaw[0])
    assert m.kind == "env.freeze" and m.frozen and m.invocation == 1
    assert m.running == frozenset()
    assert m.alive == 3  # write, flush_metrics and the timer, all left pending
