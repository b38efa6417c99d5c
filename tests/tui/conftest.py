"""Shared fixtures of the viewer tests: fixture traces and a loaded app under Pilot."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lambda_trace.model.load import load_trace
from lambda_trace.model.trace import Trace

FIXTURES = Path(__file__).parent / "fixtures"
LEAKY = FIXTURES / "leaky.jsonl"
HELD = FIXTURES / "held.jsonl"
BAD = FIXTURES / "bad.jsonl"
NOT_A_TRACE = FIXTURES / "not_a_trace.jsonl"

# Deterministic screens: no animation, no blinking cursor (the Makefile sets the first too).
os.environ.setdefault("TEXTUAL_ANIMATIONS", "none")


@pytest.fixture(scope="session")
def leaky() -> Trace:
    return load_trace(LEAKY)
