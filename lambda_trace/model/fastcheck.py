"""Compiled event checks for the hot load path: one generated function per event kind.

`check.check_event` walks a tuple of closures per field (1.3 us for a `work.begin`, 4x an
`orjson.loads`); these straight-line expressions, generated from the same pydantic models, cost a
fraction of that. They only answer accept/reject: on reject the loader asks `check_event` for the
reason. tests/model/test_fastcheck.py proves they accept exactly what `check_event` accepts.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable
from typing import Any, Literal, Union

import annotated_types
from pydantic.fields import FieldInfo

from .events import EVENT_MODELS, Event

FastCheck = Callable[[dict[str, Any]], bool]


class _Gen:
    """Builds Python expression source for a field annotation; constants go into `names`."""

    def __init__(self) -> None:
        self.names: dict[str, Any] = {}
        self._vars = 0

    def const(self, value: Any) -> str:
        name = f"_c{len(self.names)}"
        self.names[name] = value
        return name

    def var(self) -> str:
        self._vars += 1
        return f"_v{self._vars}"

    def expr(self, annotation: Any, metadata: list[Any], v: str) -> str:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            inner, *extra = typing.get_args(annotation)
            meta: list[Any] = []
            for item in extra:
                meta.extend(item.metadata if isinstance(item, FieldInfo) else [item])
            return self.expr(inner, [*metadata, *meta], v)
        if origin in (Union, types.UnionType):
            options = [self.expr(arg, [], v) for arg in typing.get_args(annotation)]
            return "(" + " or ".join(options) + ")"
        if origin is Literal:
            allowed = self.const(frozenset(typing.get_args(annotation)))
            return f"(type({v}) is str and {v} in {allowed})"
        if origin is list:
            (item_type,) = typing.get_args(annotation)
            x = self.var()
            item = self.expr(item_type, [], x)
            return f"(type({v}) is list and all({item} for {x} in {v}))"
        if origin is dict:
            return f"(type({v}) is dict)"
        if annotation is type(None):
            return f"({v} is None)"
        if annotation is Any:
            return "True"
        if annotation is int:
            lower: list[Any] = [m.ge for m in metadata if isinstance(m, annotated_types.Ge)]
            if lower:
                return f"(type({v}) is int and {v} >= {int(lower[0])!r})"
            return f"(type({v}) is int)"
        if annotation is str:
            return f"(type({v}) is str)"
        if annotation is bool:
            return f"({v} is True or {v} is False)"
        raise TypeError(f"fastcheck cannot derive a check for {annotation!r}")


def _compile(model: type[Event], skip_kind: bool) -> FastCheck:
    gen = _Gen()
    fetch, tests = [], []
    for name, info in model.model_fields.items():
        if skip_kind and name == "kind":
            continue  # the caller dispatched on it: it is this model's literal
        v = gen.var()
        test = gen.expr(info.annotation, list(info.metadata), v)
        if info.is_required():
            # Subscripts in one try block: cheaper than a .get() call per field.
            fetch.append(f"{v} = o[{name!r}]")
            tests.append(test)
        else:
            tests.append(f"(({v} := o.get({name!r}, _M)) is _M or {test})")
    body = ["def check(o, type=type, list=list, dict=dict, str=str, int=int, _M=_M):"]
    if fetch:
        body += ["    try:", *(f"        {line}" for line in fetch)]
        body += ["    except KeyError:", "        return False"]
    body.append("    return " + (" and ".join(tests) or "True"))
    namespace: dict[str, Any] = {"_M": _MISSING, **gen.names}
    exec(compile("\n".join(body) + "\n", f"<fastcheck {model.__name__}>", "exec"), namespace)
    check: FastCheck = namespace["check"]
    return check


_MISSING: Any = object()

FAST_CHECKS: dict[str, FastCheck] = {k: _compile(m, True) for k, m in EVENT_MODELS.items()}
"""kind -> accept/reject function, for an object already known to be a dict with that kind."""

OPAQUE_CHECK: FastCheck = _compile(Event, False)
"""For an event of a kind this version does not know (only the common fields)."""


def fast_accepts(obj: Any) -> bool:
    """True exactly when `check.check_event(obj)` returns None."""
    if type(obj) is not dict:
        return False
    kind = obj.get("kind", _MISSING)
    check = FAST_CHECKS.get(kind) if type(kind) is str else None
    if check is None:
        return kind is not _MISSING and OPAQUE_CHECK(obj)
    return check(obj)
