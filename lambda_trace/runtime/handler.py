"""Finding and importing the handler: `path/to/file.py:function` or `package.module:function`.

`check_handler_spec` runs in the supervisor before anything is recorded and catches what can be
known without executing user code (missing file, unknown module, syntax error). Importing happens
at INIT inside the environment, where an exception is a failed INIT, as on Lambda.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import sys
from dataclasses import dataclass
from types import ModuleType
from typing import Any


class HandlerSpecError(Exception):
    """The handler argument cannot name a handler; the message is one line for the CLI."""


@dataclass(frozen=True)
class HandlerSpec:
    raw: str
    module: str
    function: str
    file: str | None
    """Absolute path when given as a file."""

    @property
    def root(self) -> str:
        """The task root: the file's folder, or the current folder for a module."""
        return os.path.dirname(self.file) if self.file else os.getcwd()

    @property
    def function_name(self) -> str:
        """A Lambda-like function name derived from the handler."""
        return self.module.rsplit(".", 1)[-1].replace("_", "-")


def parse_handler_spec(raw: str) -> HandlerSpec:
    target, sep, function = raw.rpartition(":")
    if not sep or not target or not function:
        raise HandlerSpecError(
            f"invalid handler {raw!r}: use path/to/file.py:function or package.module:function"
        )
    if not function.isidentifier():
        raise HandlerSpecError(f"invalid handler {raw!r}: {function!r} is not a function name")
    if target.endswith(".py") or os.sep in target:
        path = os.path.abspath(target)
        module = os.path.splitext(os.path.basename(path))[0]
        return HandlerSpec(raw, module, function, path)
    return HandlerSpec(raw, target, function, None)


def check_handler_spec(raw: str) -> HandlerSpec:
    """Everything that can be checked without running user code; raises HandlerSpecError."""
    spec = parse_handler_spec(raw)
    if spec.file is not None:
        if not os.path.exists(spec.file):
            raise HandlerSpecError(f"handler file not found: {spec.file}")
        if os.path.isdir(spec.file):
            raise HandlerSpecError(f"handler file is a directory: {spec.file}")
        try:
            with open(spec.file, "rb") as fh:
                source = fh.read()
        except OSError as exc:
            raise HandlerSpecError(
                f"cannot read handler file {spec.file}: {exc.strerror}"
            ) from None
        try:
            compile(source, spec.file, "exec")
        except SyntaxError as exc:
            raise HandlerSpecError(
                f"syntax error in handler {spec.file}:{exc.lineno}: {exc.msg}"
            ) from None
        except ValueError as exc:
            raise HandlerSpecError(f"cannot compile handler {spec.file}: {exc}") from None
        return spec
    try:
        found = importlib.util.find_spec(spec.module)
    except (ImportError, ValueError) as exc:
        raise HandlerSpecError(f"cannot import module {spec.module!r}: {exc}") from None
    if found is None:
        raise HandlerSpecError(f"cannot import module {spec.module!r}: no such module")
    return spec


def import_handler_module(spec: HandlerSpec) -> ModuleType:
    """Import the handler's module (runs user code: the INIT phase)."""
    if spec.file is None:
        return importlib.import_module(spec.module)
    folder = os.path.dirname(spec.file)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    module_spec = importlib.util.spec_from_file_location(spec.module, spec.file)
    if module_spec is None or module_spec.loader is None:
        raise ImportError(f"cannot load {spec.file}")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[spec.module] = module
    module_spec.loader.exec_module(module)
    return module


def resolve_function(module: ModuleType, spec: HandlerSpec) -> Any:
    """The handler function, or HandlerSpecError naming what is wrong."""
    if not hasattr(module, spec.function):
        where = spec.file or spec.module
        raise HandlerSpecError(f"handler {spec.function!r} not found in {where}")
    fn = getattr(module, spec.function)
    if not callable(fn):
        raise HandlerSpecError(
            f"handler {spec.raw!r} is not callable (it is a {type(fn).__name__})"
        )
    return fn


def positional_arity(fn: Any) -> int:
    """How many positional parameters, like JavaScript's `function.length` (3 = callback style)."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return 2
    count = 0
    for p in params:
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            count += 1
        elif p.kind is p.VAR_POSITIONAL:
            return max(count, 3)
    return count


def is_async_function(fn: Any) -> bool:
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
        getattr(fn, "__call__", None)  # noqa: B004 - callable objects with async __call__
    )
