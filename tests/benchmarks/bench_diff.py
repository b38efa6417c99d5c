"""Figure 6: diff of two 100,000-event invocations vs the time to load them.

Two synthetic traces (different seeds), one invocation of ~100k events each; the reference is
`load_trace` of both, the figure `diff_invocations` of their invocations (loaded traces given).
Interleaved, best of 3. `python tests/benchmarks/bench_diff.py [EVENTS]` (default 100,000).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from lambda_trace.model import load_trace
from tests.benchmarks.common import Figure, bench_dir, show, synthetic

EVENTS = 100_000
REPEATS = 3


def run(a: Path, b: Path) -> list[Figure]:
    name = "6. diff two 100k-event invocations vs loading them"
    try:
        from lambda_trace.model.diff import diff_invocations
    except ImportError:
        print("diff: not available (module missing)")
        return [Figure(name, "<= 1x load time", "not available (module missing)", None, None)]
    print(f"diff: {a.name} vs {b.name}, best of {REPEATS}")
    loads, diffs = [], []
    result: Any = None
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        ta, tb = load_trace(a), load_trace(b)
        loads.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        result = diff_invocations(ta, ta.invocations[0], tb, tb.invocations[0])
        diffs.append(time.perf_counter() - t0)
        ta.close()
        tb.close()
    ld, df = min(loads), min(diffs)
    rows = len(getattr(result, "rows", ()))
    print(f"  load both {ld:.3f} s, diff {df:.3f} s ({rows:,} aligned rows): {df / ld:.2f}x")
    figures = [Figure(name, "<= 1x load time", f"{df:.2f} s vs load {ld:.2f} s", df / ld, df <= ld)]
    show(figures)
    return figures


def traces(tmp: Path, events: int = EVENTS) -> tuple[Path, Path]:
    return synthetic(tmp, events, 1, seed=1), synthetic(tmp, events, 1, seed=2)


def main() -> None:
    run(*traces(bench_dir(), int(sys.argv[1]) if len(sys.argv) > 1 else EVENTS))


if __name__ == "__main__":
    main()
