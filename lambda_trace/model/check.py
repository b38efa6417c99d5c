"""Fast structural check of decoded trace events, derived from the pydantic models.

pydantic costs 2.4-5.6 us per event (DESIGN.md); these closures cost a fraction of that and accept
exactly what the strict models accept (proved by tests/test_check_equivalence.py).
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable
from typing import Any, Literal, Union

import annotated_types
from pydantic.fields import FieldInfo

from .events import EVENT_MODELS, Event

Validator = Callable[[Any], bool]


def _is_int(v: Any) -> bool:
    return type(v) is int


def _is_str(v: Any) -> bool:
    return type(v) is str


def _is_bool(v: Any) -> bool:
    return v is True or v is False


def _any(v: Any) -> bool:
    return True


def _with_bounds(base: Validator, metadata: list[Any]) -> Validator:
    lower = [m.ge for m in metadata if isinstance(m, annotated_types.Ge)]
    if not lower:
        return base
    floor = lower[0]
    return lambda v: base(v) and v >= floor


def unwrap_annotated(annotation: Any, metadata: list[Any]) -> tuple[Any, list[Any]]:
    """`Annotated[T, Field(ge=0), ...]` -> (T, metadata + its constraints); anything else as is.
    Shared by every derivation from the models (this checker, fastcheck, the test strategies)."""
    if typing.get_origin(annotation) is not typing.Annotated:
        return annotation, metadata
    inner, *extra = typing.get_args(annotation)
    meta = list(metadata)
    for item in extra:
        meta.extend(item.metadata if isinstance(item, FieldInfo) else [item])
    return unwrap_annotated(inner, meta)


def _validator(annotation: Any, metadata: list[Any]) -> Validator:
    annotation, metadata = unwrap_annotated(annotation, metadata)
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        options = [_validator(arg, []) for arg in typing.get_args(annotation)]
        return lambda v: any(ok(v) for ok in options)
    if origin is Literal:
        allowed = typing.get_args(annotation)
        return lambda v: type(v) is str and v in allowed
    if origin is list:
        (item_type,) = typing.get_args(annotation)
        item_ok = _validator(item_type, [])
        return lambda v: type(v) is list and all(item_ok(x) for x in v)
    if origin is dict:
        return lambda v: type(v) is dict
    if annotation is type(None):
        return lambda v: v is None
    if annotation is Any:
        return _any
    if annotation is int:
        return _with_bounds(_is_int, metadata)
    if annotation is str:
        return _is_str
    if annotation is bool:
        return _is_bool
    raise TypeError(f"check.py cannot derive a validator for {annotation!r}")


FieldCheck = tuple[str, bool, Validator]


def _field_checks(model: type[Event]) -> tuple[FieldCheck, ...]:
    checks = []
    for name, info in model.model_fields.items():
        ok = _validator(info.annotation, list(info.metadata))
        checks.append((name, info.is_required(), ok))
    return tuple(checks)


CHECKS: dict[str, tuple[FieldCheck, ...]] = {k: _field_checks(m) for k, m in EVENT_MODELS.items()}
OPAQUE_CHECKS = _field_checks(Event)


def check_event(obj: Any) -> str | None:
    """Return None if `obj` is a valid event (known or opaque kind), else the reason it is not."""
    if type(obj) is not dict:
        return f"expected a JSON object, got {_json_type(obj)}"
    kind = obj.get("kind", _MISSING)
    if kind is _MISSING:
        return "missing field 'kind'"
    checks = CHECKS.get(kind) if type(kind) is str else None
    if checks is None:
        checks = OPAQUE_CHECKS
    for name, required, ok in checks:
        value = obj.get(name, _MISSING)
        if value is _MISSING:
            if required:
                return f"missing field '{name}'"
        elif not ok(value):
            return f"field '{name}' has an invalid value {_preview(value)}"
    return None


def is_known_kind(kind: Any) -> bool:
    return type(kind) is str and kind in CHECKS


_MISSING: Any = object()


def _json_type(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, int | float):
        return "a number"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, list):
        return "an array"
    return type(v).__name__


def _preview(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 40 else text[:37] + "..."
