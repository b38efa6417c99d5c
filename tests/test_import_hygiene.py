"""The model layer must stay importable without Textual (DESIGN.md layers)."""

from __future__ import annotations

import subprocess
import sys


def _imported_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_model_does_not_import_textual() -> None:
    modules = _imported_after("import lambda_trace.model")
    assert not any(m == "textual" or m.startswith("textual.") for m in modules)


def test_cli_module_does_not_import_textual() -> None:
    modules = _imported_after("import lambda_trace.cli")
    assert not any(m == "textual" or m.startswith("textual.") for m in modules)


def test_runtime_does_not_import_textual() -> None:
    modules = _imported_after("import lambda_trace.runtime")
    assert "textual" not in modules
