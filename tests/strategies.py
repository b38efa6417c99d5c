"""Hypothesis strategies for trace events, derived from the pydantic models like check.py is."""

from __future__ import annotations

import types
import typing
from typing import Any, Literal, Union

import annotated_types
from hypothesis import strategies as st

from lambda_trace.model.check import unwrap_annotated
from lambda_trace.model.events import EVENT_MODELS

json_scalars = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=8)
json_values = st.recursive(
    json_scalars | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)


def strategy_for(annotation: Any, metadata: list[Any] | None = None) -> st.SearchStrategy[Any]:
    annotation, metadata = unwrap_annotated(annotation, metadata or [])
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        return st.one_of([strategy_for(a) for a in typing.get_args(annotation)])
    if origin is Literal:
        return st.sampled_from(typing.get_args(annotation))
    if origin is list:
        return st.lists(strategy_for(typing.get_args(annotation)[0]), max_size=4)
    if origin is dict:
        return st.dictionaries(st.text(max_size=6), json_values, max_size=3)
    if annotation is type(None):
        return st.none()
    if annotation is Any:
        return json_values
    if annotation is int:
        low = next((m.ge for m in metadata if isinstance(m, annotated_types.Ge)), -(2**40))
        return st.integers(low, 2**40)
    if annotation is str:
        return st.text(max_size=12)
    if annotation is bool:
        return st.booleans()
    raise TypeError(annotation)


@st.composite
def events(draw: st.DrawFn, kinds: list[str] | None = None) -> dict[str, Any]:
    """One valid event (any kind but the header), optional fields sometimes omitted."""
    kind = draw(st.sampled_from(kinds or [k for k in EVENT_MODELS if k != "trace.start"]))
    model = EVENT_MODELS[kind]
    out: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        if name == "kind":
            out[name] = kind
            continue
        if not info.is_required() and draw(st.booleans()):
            continue
        out[name] = draw(strategy_for(info.annotation, list(info.metadata)))
    return out
