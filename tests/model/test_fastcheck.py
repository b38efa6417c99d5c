"""The compiled checks of fastcheck.py accept exactly what check.check_event accepts."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given, settings

from lambda_trace.model.check import check_event
from lambda_trace.model.fastcheck import fast_accepts, loader_accepts, struct_accepts
from tests.strategies import events, json_values
from tests.test_schema_check import mutated_events


@settings(max_examples=3000, deadline=None)
@given(mutated_events())
def test_fast_check_agrees_with_check_event(obj: dict[str, Any]) -> None:
    assert fast_accepts(obj) == (check_event(obj) is None), check_event(obj)
    assert loader_accepts(obj) == (check_event(obj) is None), check_event(obj)


@settings(max_examples=3000, deadline=None)
@given(mutated_events())
def test_structs_accept_only_what_check_event_accepts(obj: dict[str, Any]) -> None:
    line = orjson.dumps(obj)
    if struct_accepts(line):
        assert check_event(obj) is None


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_structs_on_any_json(value: Any) -> None:
    if struct_accepts(orjson.dumps(value)):
        assert check_event(value) is None


def test_structs_refuse_what_they_cannot_judge() -> None:
    begin = {"seq": 1, "ts": 2, "kind": "work.begin", "inv": None, "work": 3}
    assert struct_accepts(orjson.dumps(begin))
    assert not struct_accepts(orjson.dumps({**begin, "extra": 1}))  # kept by pydantic: slow path
    assert not struct_accepts(orjson.dumps({**begin, "work": 2**63}))  # beyond the columns
    assert not struct_accepts(orjson.dumps({**begin, "kind": "trace.start"}))
    assert not struct_accepts(orjson.dumps({**begin, "kind": "x.future"}))
    start = {"seq": 1, "ts": 2, "kind": "invoke.start", "inv": 1, "request_id": "r", "env": 1,
             "cold": True, "deadline_ns": 5, "event_size": 1, "event_sha256": "x"}  # fmt: skip
    assert struct_accepts(orjson.dumps(start))
    assert not struct_accepts(orjson.dumps({**start, "event": None}))  # payloads: slow path


@settings(max_examples=300, deadline=None)
@given(events())
def test_fast_check_accepts_valid_events(obj: dict[str, Any]) -> None:
    assert fast_accepts(obj)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_fast_check_on_any_json(value: Any) -> None:
    assert fast_accepts(value) == (check_event(value) is None)
    assert loader_accepts(value) == (check_event(value) is None)


def test_boundaries() -> None:
    good = {"seq": 0, "ts": 0, "kind": "env.freeze", "inv": None, "pending": [0, 3]}
    assert fast_accepts(good)
    assert not fast_accepts({**good, "pending": [1, -1]})
    assert not fast_accepts({**good, "pending": [True]})
    assert not fast_accepts({**good, "inv": 1.0})
    assert not fast_accepts({k: v for k, v in good.items() if k != "pending"})
    assert fast_accepts({**good, "kind": "x.future", "pending": "anything"})
    assert not fast_accepts({**good, "kind": 3})
