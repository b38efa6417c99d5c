"""`make bench`: every benchmark of the performance issue in sequence, then a summary table.

The traces are generated once into a temp dir (1M and 10k events for load, memory and the viewer;
two 100k-event single-invocation traces for the diff) and deleted at the end. Takes a few minutes
on a 2-core machine; each figure is a ratio to a reference measured in this same run.
"""

from __future__ import annotations

import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.benchmarks import bench_diff, bench_load, bench_record, bench_viewer
from tests.benchmarks.common import BIG, SMALL, Figure, synthetic


def machine() -> str:
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}"


def accelerators() -> str:
    """Which code paths ran: the C accelerators, or the pure-Python fallbacks."""
    from lambda_trace.accel import PURE_ENV
    from lambda_trace.model import load
    from lambda_trace.runtime import _accel

    if os.environ.get(PURE_ENV) == "1":
        return f"pure Python ({PURE_ENV}=1)"
    built = [
        name
        for name, module in (("loader", load._fastload), ("recorder", _accel.fastrec))
        if module is not None
    ]
    return f"C accelerators: {', '.join(built) or 'none built (make ext)'}"


def table(figures: list[Figure]) -> str:
    head = ("figure", "target", "measured", "ratio", "met?")
    rows = [
        (
            f.name,
            f.target,
            f.measured + (f" ({f.note})" if f.note else ""),
            "" if f.ratio is None else f"{f.ratio:.2f}x",
            {True: "yes", False: "NO", None: "n/a"}[f.met],
        )
        for f in figures
    ]
    widths = [max(len(r[i]) for r in (head, *rows)) for i in range(len(head))]
    lines = [" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in (head, *rows)]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def main() -> None:
    start = time.perf_counter()
    print(f"lambda-trace benchmarks on {machine()}; {accelerators()}")
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="lambda-trace-bench-") as name:
        tmp = Path(name)
        print("generating synthetic traces")
        small, big = synthetic(tmp, SMALL), synthetic(tmp, BIG)
        diff_a, diff_b = bench_diff.traces(tmp)
        steps = [
            lambda: bench_load.run(big),
            lambda: bench_viewer.run(small, big),
            lambda: bench_record.run(),
            lambda: bench_diff.run(diff_a, diff_b),
        ]
        for step in steps:
            print()
            figures.extend(step())
    took = time.perf_counter() - start
    print(f"\nsummary ({machine()}; {accelerators()}; {took / 60:.1f} min in all)\n")
    print(table(figures))


if __name__ == "__main__":
    main()
