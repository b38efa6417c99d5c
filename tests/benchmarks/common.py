"""What every benchmark shares: a figure row, the synthetic traces (made once per run), timing.

The machine is shared and noisy: each figure is a ratio to a reference measured in the same run,
interleaved, best of a few; absolute seconds are printed only as context.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.benchmarks.synth import write_synthetic  # noqa: E402

BIG = 1_000_000
SMALL = 10_000
EVENTS_PER_INVOCATION = 500
"""Synthetic traces: ~500 events an invocation (2,000 invocations for 1M events)."""


@dataclass
class Figure:
    """One line of the summary: what was measured, its target, the measurement and the ratio."""

    name: str
    target: str
    measured: str
    ratio: float | None
    met: bool | None
    """None when it could not be measured."""
    note: str = ""


def synthetic(tmp: Path, events: int, invocations: int | None = None, seed: int = 1) -> Path:
    """The synthetic trace of about `events` events in `tmp` (written on first use)."""
    invocations = invocations or max(1, events // EVENTS_PER_INVOCATION)
    path = tmp / f"synth-{events}-{invocations}-{seed}.jsonl"
    if not path.exists():
        t0 = time.perf_counter()
        n = write_synthetic(path, events, invocations, seed)
        took = time.perf_counter() - t0
        print(
            f"  (wrote {path.name}: {n:,} events, {path.stat().st_size / 1e6:.1f} MB in {took:.1f} s)"
        )
    return path


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """(wall seconds, result) of one call."""
    t0 = time.perf_counter()
    result = fn()
    return time.perf_counter() - t0, result


def bench_dir() -> Path:
    """Where a standalone benchmark keeps its traces: $LAMBDA_TRACE_BENCH_DIR or a temp dir."""
    path = Path(os.environ.get("LAMBDA_TRACE_BENCH_DIR") or "/tmp/lambda-trace-bench")
    path.mkdir(parents=True, exist_ok=True)
    return path


def show(figures: list[Figure]) -> None:
    for f in figures:
        ratio = "" if f.ratio is None else f"  ratio {f.ratio:.2f}"
        met = {True: "met", False: "NOT MET", None: "n/a"}[f.met]
        print(f"  => {f.name}: {f.measured}{ratio} (target {f.target}): {met}")
