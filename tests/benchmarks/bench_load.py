"""Figures 1 and 2: load + analyse a 1M-event trace vs the floor, and the bytes held per event.

The floor is `orjson.loads` of every line and nothing else. Times are interleaved, best of 3, wall
and CPU; memory is measured with tracemalloc in a separate load so tracing does not slow the timed
ones. `python tests/benchmarks/bench_load.py [EVENTS]` (default 1,000,000).
"""

from __future__ import annotations

import gc
import sys
import time
import tracemalloc
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from lambda_trace.model import load_trace
from tests.benchmarks.common import BIG, Figure, bench_dir, show, synthetic

LOAD_TARGET = 2.5
BYTES_TARGET = 150
REPEATS = 3


def floor(path: Path) -> tuple[float, float]:
    """Read every line and decode it with orjson, keeping nothing: (wall s, CPU s)."""
    loads = orjson.loads
    t0, c0 = time.perf_counter(), time.process_time()
    with open(path, "rb") as fh:
        for line in fh:
            loads(line)
    return time.perf_counter() - t0, time.process_time() - c0


def load(path: Path) -> tuple[float, float]:
    """load_trace (one pass + analysis): (wall s, CPU s)."""
    t0, c0 = time.perf_counter(), time.process_time()
    trace = load_trace(path)
    took = time.perf_counter() - t0, time.process_time() - c0
    trace.close()
    del trace
    gc.collect()
    return took


def held_bytes(path: Path) -> tuple[int, int]:
    """Bytes the loaded Trace holds (tracemalloc, after a collection) and its event count."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    trace = load_trace(path)
    gc.collect()
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    n = len(trace.events) + 1
    trace.close()
    return held, n


def run(path: Path) -> list[Figure]:
    with open(path, "rb") as fh:
        n = sum(1 for _ in fh)
    print(f"load: {n:,} events, {path.stat().st_size / 1e6:.1f} MB")
    floors, loads = [], []
    for _ in range(REPEATS):  # interleaved: the machine is shared
        floors.append(floor(path))
        loads.append(load(path))
    for label, i in (("wall", 0), ("CPU", 1)):
        f = min(x[i] for x in floors)
        ld = min(x[i] for x in loads)
        print(
            f"  {label:4}: floor {f:.3f} s ({f / n * 1e9:.0f} ns/event), load_trace {ld:.3f} s "
            f"({ld / n * 1e9:.0f} ns/event): ratio {ld / f:.2f}x (target <= {LOAD_TARGET})"
        )
    f = min(x[0] for x in floors)
    ld = min(x[0] for x in loads)
    held, count = held_bytes(path)
    per = held / count
    print(f"  held by the loaded trace: {held / 1e6:.1f} MB = {per:.0f} B/event")
    figures = [
        Figure(
            "1. load + analyse 1M events",
            f"<= {LOAD_TARGET}x orjson floor",
            f"{ld:.2f} s vs floor {f:.2f} s",
            ld / f,
            ld / f <= LOAD_TARGET,
        ),
        Figure(
            "2. memory held per event",
            f"<= {BYTES_TARGET} B/event",
            f"{per:.0f} B/event ({held / 1e6:.0f} MB)",
            None,
            per <= BYTES_TARGET,
        ),
    ]
    show(figures)
    return figures


def main() -> None:
    events = int(sys.argv[1]) if len(sys.argv) > 1 else BIG
    run(synthetic(bench_dir(), events))


if __name__ == "__main__":
    main()
