"""Compiled event checks for the hot load path, generated from the pydantic models.

`check.check_event` walks a tuple of closures per field (1.3 us for a `work.begin`, 4x an
`orjson.loads`); the straight-line expressions here cost a fraction of that. They only answer
accept/reject: on reject the loader asks `check_event` for the reason.
tests/model/test_fastcheck.py proves they accept exactly what `check_event` accepts.

`LINE_DECODER` goes further: msgspec structs, one per kind, decode *and* check a line in C (about
the cost of a bare `orjson.loads`, measured by tests/benchmarks/bench_load.py). They are stricter
than the models on purpose (no unknown fields, ints within 64 bits, payload fields absent): a line
they refuse takes the orjson + `check_event` path, so the loader's answer does not change.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable
from typing import Any, Literal, Union

import annotated_types
import msgspec

from .check import unwrap_annotated
from .events import EVENT_MODELS, Event

FastCheck = Callable[[dict[str, Any]], bool]


_STR = frozenset({str})
_INT = frozenset({int})


def _is_nonneg_int(annotation: Any) -> bool:
    inner, meta = unwrap_annotated(annotation, [])
    bounds = [m.ge for m in meta if isinstance(m, annotated_types.Ge)]
    return inner is int and bounds == [0] and len(meta) == 1


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
        annotation, metadata = unwrap_annotated(annotation, metadata)
        origin = typing.get_origin(annotation)
        if origin in (Union, types.UnionType):
            options = [self.expr(arg, [], v) for arg in typing.get_args(annotation)]
            return "(" + " or ".join(options) + ")"
        if origin is Literal:
            allowed = self.const(frozenset(typing.get_args(annotation)))
            return f"(type({v}) is str and {v} in {allowed})"
        if origin is list:
            (item_type,) = typing.get_args(annotation)
            # Common item types test the set of item types in C: 3x cheaper than a generator.
            if item_type is str:
                return f"(type({v}) is list and {{*map(type, {v})}} <= {self.const(_STR)})"
            if _is_nonneg_int(item_type):
                types_ok = f"{{*map(type, {v})}} <= {self.const(_INT)}"
                return f"(type({v}) is list and (not {v} or ({types_ok} and min({v}) >= 0)))"
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


COMMON = ("seq", "ts", "kind", "inv")
"""Fields of every event, checked inline by the loader (see `common_ok`)."""


def _compile(model: type[Event], skip: tuple[str, ...]) -> FastCheck:
    gen = _Gen()
    fetch, tests = [], []
    for name, info in model.model_fields.items():
        if name in skip:
            continue
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

FAST_CHECKS: dict[str, FastCheck] = {k: _compile(m, ("kind",)) for k, m in EVENT_MODELS.items()}
"""kind -> accept/reject function, for an object already known to be a dict with that kind."""

REST_CHECKS: dict[str, FastCheck] = {k: _compile(m, COMMON) for k, m in EVENT_MODELS.items()}
"""kind -> check of every field but the common ones (the loader checks those inline)."""

OPAQUE_CHECK: FastCheck = _compile(Event, ())
"""For an event of a kind this version does not know (only the common fields)."""

# The loader's inline check of the common fields hard-codes their types: fail at import, not
# silently, if the schema changes them.
assert list(Event.model_fields) == list(COMMON), "update common_ok() and the loader"
assert all(
    str(f.annotation) == str(EVENT_MODELS["work.begin"].model_fields[n].annotation)
    for n, f in Event.model_fields.items()
    if n != "kind"
)


def common_ok(seq: Any, ts: Any, inv: Any) -> bool:
    """The loader's inline test of `seq`, `ts` and `inv` (NonNeg, NonNeg, NonNeg | None)."""
    return (
        type(seq) is int
        and seq >= 0
        and type(ts) is int
        and ts >= 0
        and (inv is None or (type(inv) is int and inv >= 0))
    )


def loader_accepts(obj: Any) -> bool:
    """The loader's decision as one function (for tests): common fields inline, then the rest."""
    try:
        seq, ts, inv, kind = obj["seq"], obj["ts"], obj["inv"], obj["kind"]
        rest = REST_CHECKS[kind]
    except (KeyError, TypeError, IndexError):
        return fast_accepts(obj)
    if not common_ok(seq, ts, inv):
        return False
    if kind in ("work.begin", "work.end"):
        work = obj.get("work")
        return type(work) is int and work >= 0
    return rest(obj)


def fast_accepts(obj: Any) -> bool:
    """True exactly when `check.check_event(obj)` returns None."""
    if type(obj) is not dict:
        return False
    kind = obj.get("kind", _MISSING)
    check = FAST_CHECKS.get(kind) if type(kind) is str else None
    if check is None:
        return kind is not _MISSING and OPAQUE_CHECK(obj)
    return check(obj)


# -- msgspec structs ------------------------------------------------------------------------------

_I64_MAX = 2**63 - 1
_I64_MIN = -(2**63)
_NO_RAW = msgspec.Raw()


class _Unsupported(Exception):
    """A field type the structs hold as `Raw` (payloads: `Any`, dicts): present means slow path."""


def _ms_type(annotation: Any, metadata: list[Any]) -> Any:
    annotation, metadata = unwrap_annotated(annotation, metadata)
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        return Union[tuple(_ms_type(arg, []) for arg in typing.get_args(annotation))]  # noqa: UP007
    if origin is Literal:
        return annotation
    if origin is list:
        # Decoded as a tuple: the same JSON accepted, and the loader keeps stacks as tuples.
        (item_type,) = typing.get_args(annotation)
        return tuple[_ms_type(item_type, []), ...]  # type: ignore[misc]
    if annotation is type(None):
        return None
    if annotation is int:
        # Within 64 bits: a bigger id takes the orjson path, which reports it as pydantic does.
        lower = [m.ge for m in metadata if isinstance(m, annotated_types.Ge)]
        low = int(str(lower[0])) if lower else _I64_MIN
        return typing.Annotated[int, msgspec.Meta(ge=low, le=_I64_MAX)]
    if annotation in (str, bool):
        return annotation
    raise _Unsupported(annotation)


def _struct(kind: str, model: type[Event]) -> tuple[type[msgspec.Struct], tuple[str, ...]]:
    fields: list[tuple[str, Any, Any]] = []
    raw: list[str] = []
    for name, info in model.model_fields.items():
        if name == "kind":
            continue
        try:
            ms_type = _ms_type(info.annotation, list(info.metadata))
        except _Unsupported:
            if info.is_required():
                raise
            fields.append((name, msgspec.Raw, _NO_RAW))
            raw.append(name)
            continue
        if info.is_required():
            fields.append((name, ms_type, msgspec.NODEFAULT))
        elif isinstance(info.default, list):
            assert not info.default, "a non-empty list default"
            fields.append((name, ms_type, ()))
        else:
            fields.append((name, ms_type, info.default))
    namespace: dict[str, Any] = {"kind": kind, "code": list(EVENT_MODELS).index(kind)}
    namespace["raw"] = tuple(raw)
    if "work" not in model.model_fields:
        namespace["work"] = None  # so every event has a `work`, as the loader's column does
    struct = msgspec.defstruct(
        model.__name__,
        fields,
        kw_only=True,
        tag_field="kind",
        tag=kind,
        forbid_unknown_fields=True,
        gc=False,  # never in a cycle; untracked, the collector never walks them
        namespace=namespace,
    )
    return struct, tuple(raw)


def _structs() -> dict[str, tuple[type[msgspec.Struct], tuple[str, ...]]]:
    out = {}
    for kind, model in EVENT_MODELS.items():
        if kind == "trace.start":  # only valid as the header: the loader reports a second one
            continue
        out[kind] = _struct(kind, model)
    return out


STRUCTS: dict[str, tuple[type[msgspec.Struct], tuple[str, ...]]] = _structs()
"""kind -> (struct, names of its payload fields held raw). Each struct also has the class
attributes `kind`, `code` (its index in `EVENT_MODELS`, i.e. `trace.KIND_CODES`) and `raw`."""

LINE_DECODER: msgspec.json.Decoder[Any] = msgspec.json.Decoder(
    Union[tuple(s for s, _raw in STRUCTS.values())]  # noqa: UP007
)
"""Decodes one line to the struct of its kind; raises on anything the structs do not accept."""


def struct_accepts(line: bytes) -> bool:
    """True when the loader's msgspec path takes this line (for tests: then `check_event` must
    accept it too)."""
    try:
        event = LINE_DECODER.decode(line)
    except (msgspec.DecodeError, RecursionError):
        return False
    return not any(getattr(event, name) for name in event.raw)
