"""Layers point one way (DESIGN.md): every module of `model` imports neither Textual nor the
runtime; no module of `tui` imports the runtime; `cli` does not import Textual."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import pytest

import lambda_trace.model
import lambda_trace.tui


def _imported_after(module: str) -> set[str]:
    code = f"import sys; import {module}; print('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def _modules(package: object) -> list[str]:
    prefix = package.__name__ + "."  # type: ignore[attr-defined]
    return [package.__name__] + [  # type: ignore[attr-defined]
        m.name
        for m in pkgutil.walk_packages(package.__path__, prefix)  # type: ignore[attr-defined]
    ]


def _textual(modules: set[str]) -> bool:
    return any(m == "textual" or m.startswith("textual.") for m in modules)


def _runtime(modules: set[str]) -> bool:
    return any(m.startswith("lambda_trace.runtime") for m in modules)


@pytest.mark.parametrize("module", _modules(lambda_trace.model))
def test_model_module_imports_no_textual_and_no_runtime(module: str) -> None:
    modules = _imported_after(module)
    assert not _textual(modules) and not _runtime(modules)


@pytest.mark.parametrize("module", _modules(lambda_trace.tui))
def test_tui_module_imports_no_runtime(module: str) -> None:
    assert not _runtime(_imported_after(module))


def test_cli_module_does_not_import_textual() -> None:
    assert not _textual(_imported_after("lambda_trace.cli"))


def test_runtime_does_not_import_textual() -> None:
    assert not _textual(_imported_after("lambda_trace.runtime"))
