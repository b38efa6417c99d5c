"""The optional C accelerators: found when built, and skipped when LAMBDA_TRACE_PURE=1 asks for
the pure-Python paths (which the equivalence tests compare them with)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from lambda_trace.model import load

PROBE = "import lambda_trace.model.load as m; print(m._fastload is None)"


def _probe(**env: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", PROBE],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def test_pure_env_turns_the_c_loader_off() -> None:
    assert _probe(LAMBDA_TRACE_PURE="1") == "True"


def test_c_loader_is_found_when_built() -> None:
    if load._fastload is None:
        pytest.skip("the C loader is not built here (make ext) or LAMBDA_TRACE_PURE=1")
    assert _probe(LAMBDA_TRACE_PURE="0") == "False"
