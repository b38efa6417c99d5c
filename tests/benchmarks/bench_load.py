"""Load + analyse a synthetic trace and compare with the floor: `orjson.loads` of every line.

`python tests/benchmarks/bench_load.py [EVENTS]` (default 1,000,000). Prints the time of each, their
ratio (target <= 2.5) and the bytes the loaded Trace holds per event (target <= 150), measured with
tracemalloc in a separate run so tracing does not slow the timed one. Times are best of 3.
"""

from __future__ import annotations

import gc
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from lambda_trace.model import load_trace
from tests.benchmarks.synth import write_synthetic


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
    return took


def held_bytes(path: Path) -> tuple[int, int]:
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


def main() -> None:
    events = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "synthetic.jsonl"
        n = write_synthetic(path, events, max(10, events // 500))
        size = path.stat().st_size
        print(f"trace: {n:,} events, {size / 1e6:.1f} MB")
        floors, loads = [], []
        for _ in range(3):  # interleaved, best of 3: the machine is shared
            floors.append(floor(path))
            loads.append(load(path))
        for label, i in (("wall", 0), ("CPU", 1)):
            f = min(x[i] for x in floors)
            ld = min(x[i] for x in loads)
            print(
                f"{label:4}: floor {f:.3f} s ({f / n * 1e9:.0f} ns/event), load_trace {ld:.3f} s "
                f"({ld / n * 1e9:.0f} ns/event): ratio {ld / f:.2f}x (target <= 2.5)"
            )
        held, count = held_bytes(path)
        print(
            f"held by the loaded trace: {held / 1e6:.1f} MB = {held / count:.0f} B/event "
            "(target <= 150)"
        )


if __name__ == "__main__":
    main()
