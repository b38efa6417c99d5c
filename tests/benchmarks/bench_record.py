"""Figure 5: recording overhead. 200,000 tasks each awaiting `asyncio.sleep(0)` twice, in batches of
1,000, on the emulator's instrumented loop (TracedLoop + Tracer + TraceWriter to a temp file,
virtual clock) vs a plain asyncio loop; VizTracer's async mode on the same workload alongside when
it is installed (one run: it is slow). Interleaved repetitions, best of each; GC as in a normal run.
`python tests/benchmarks/bench_record.py [TASKS]` (default 200,000).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from lambda_trace.model.writer import TraceWriter
from lambda_trace.runtime.clock import EmulatedClock
from lambda_trace.runtime.loop import TracedLoop
from lambda_trace.runtime.tracer import Tracer
from tests.benchmarks.common import Figure, show

TASKS = 200_000
BATCH = 1_000
REPEATS = 3
TARGET = 1.5


async def _one() -> None:
    await asyncio.sleep(0)
    await asyncio.sleep(0)


async def workload(tasks: int) -> None:
    for _ in range(tasks // BATCH):
        await asyncio.gather(*[_one() for _ in range(BATCH)])


def untraced(tasks: int, tmp: Path) -> float:
    loop = asyncio.new_event_loop()
    try:
        t0 = time.perf_counter()
        loop.run_until_complete(workload(tasks))
        return time.perf_counter() - t0
    finally:
        loop.close()


def traced(tasks: int, tmp: Path) -> float:
    clock = EmulatedClock("virtual")
    path = tmp / "record.jsonl"
    header = {"profile": "python", "handler": "bench_record.py:workload", "clock": "virtual"}
    t0 = time.perf_counter()
    writer = TraceWriter(path, header, clock=clock.now_ns)
    tracer = Tracer(writer, clock, root=str(Path(__file__).parent))
    loop = TracedLoop(tracer, clock, fatal_uncaught=False, report_drops=False)
    try:
        loop.run_until_complete(workload(tasks))
    finally:
        loop.close()
        writer.close()
    took = time.perf_counter() - t0
    with open(path, "rb") as fh:
        lines = sum(1 for _ in fh)
    if lines < tasks * 8:
        raise RuntimeError(f"traced run wrote {lines:,} events, expected >= {tasks * 8:,}")
    return took


def viztracer(tasks: int, tmp: Path) -> float:
    from viztracer import VizTracer  # optional: only printed alongside as a reference

    loop = asyncio.new_event_loop()
    tracer = VizTracer(log_async=True, verbose=0, tracer_entries=5_000_000)
    try:
        t0 = time.perf_counter()
        tracer.start()
        loop.run_until_complete(workload(tasks))
        tracer.stop()
        tracer.save(str(tmp / "viz.json"))
        return time.perf_counter() - t0
    finally:
        loop.close()


def run(tasks: int = TASKS) -> list[Figure]:
    print(f"record: {tasks:,} tasks x 2 sleep(0) in batches of {BATCH:,}, best of {REPEATS}")
    runs: dict[str, Callable[[int, Path], float]] = {"untraced": untraced, "traced": traced}
    try:
        import viztracer as _viz  # noqa: F401

        runs["viztracer"] = viztracer
    except ImportError:
        print("  viztracer: not installed (pip install viztracer to print it alongside)")
    times: dict[str, list[float]] = {k: [] for k in runs}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(REPEATS):
            for name, fn in runs.items():
                if name != "viztracer" or i == REPEATS - 1:  # a reference only: one run (slow)
                    times[name].append(fn(tasks, Path(tmp)))
    base = min(times["untraced"])
    for name, ts in times.items():
        best = min(ts)
        print(f"  {name:9} {best:.3f} s ({best / tasks * 1e6:.2f} us/task): {best / base:.2f}x")
    ratio = min(times["traced"]) / base
    note = ""
    if "viztracer" in times:
        note = f"VizTracer async {min(times['viztracer']) / base:.2f}x"
    figures = [
        Figure(
            "5. recording overhead (traced / untraced)",
            f"<= {TARGET}x",
            f"{min(times['traced']):.2f} s vs {base:.2f} s",
            ratio,
            ratio <= TARGET,
            note,
        )
    ]
    show(figures)
    return figures


def main() -> None:
    run(int(sys.argv[1]) if len(sys.argv) > 1 else TASKS)


if __name__ == "__main__":
    main()
