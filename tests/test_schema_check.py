"""The fast checker (model/check.py) accepts and rejects exactly what the pydantic models do."""

from __future__ import annotations

from typing import Any

import pydantic
from hypothesis import given, settings
from hypothesis import strategies as st

from lambda_trace.model.check import check_event
from lambda_trace.model.events import EVENT_MODELS, json_schema, parse_event
from tests.strategies import events, json_values


def pydantic_accepts(obj: dict[str, Any]) -> bool:
    try:
        parse_event(obj)
    except pydantic.ValidationError:
        return False
    return True


@st.composite
def mutated_events(draw: st.DrawFn) -> dict[str, Any]:
    event = draw(events(kinds=list(EVENT_MODELS)))
    for _ in range(draw(st.integers(0, 3))):
        action = draw(st.sampled_from(["drop", "replace", "add", "kind"]))
        keys = sorted(event)
        if action == "drop" and keys:
            event.pop(draw(st.sampled_from(keys)))
        elif action == "replace" and keys:
            event[draw(st.sampled_from(keys))] = draw(json_values)
        elif action == "add":
            event[draw(st.text(max_size=6))] = draw(json_values)
        else:
            event["kind"] = draw(st.sampled_from([*EVENT_MODELS, "x.custom"]) | json_values)
    return event


@settings(max_examples=1500, deadline=None)
@given(mutated_events())
def test_checker_agrees_with_pydantic(obj: dict[str, Any]) -> None:
    assert (check_event(obj) is None) == pydantic_accepts(obj), check_event(obj)


@settings(max_examples=300, deadline=None)
@given(events())
def test_generated_events_are_valid(obj: dict[str, Any]) -> None:
    assert check_event(obj) is None
    assert pydantic_accepts(obj)


def test_specific_rejections() -> None:
    good = {"seq": 1, "ts": 5, "kind": "work.begin", "inv": 1, "work": 3}
    assert check_event(good) is None
    assert check_event({**good, "work": True}) == "field 'work' has an invalid value True"
    assert check_event({**good, "seq": -1}) == "field 'seq' has an invalid value -1"
    assert check_event({**good, "ts": 1.0}) == "field 'ts' has an invalid value 1.0"
    assert check_event({k: v for k, v in good.items() if k != "inv"}) == "missing field 'inv'"
    assert check_event([1]) == "expected a JSON object, got an array"
    assert check_event({"seq": 1}) == "missing field 'kind'"
    # Unknown kinds are opaque events: only the common fields are checked.
    assert check_event({**good, "kind": "future.thing"}) is None


def test_json_schema_covers_every_kind() -> None:
    schema = json_schema()
    mapping = schema["discriminator"]["mapping"]
    assert set(mapping) == set(EVENT_MODELS)
