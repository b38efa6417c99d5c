"""Record every gallery scenario deterministically: `python -m lambda_trace.examples.record_all
traces` (what `make traces` runs). Same handler, same events -> the same bytes."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

from ..runtime.supervisor import Environment
from .catalog import PACKAGE_ROOT, SCENARIOS, Scenario


def record(scenario: Scenario, output: Path, *, isolate: bool = True) -> Path:
    """Record `scenario` into the file `output`; returns it.

    Runs from PACKAGE_ROOT so the trace names the handler `lambda_trace/examples/<file>.py`, never
    an absolute path. `isolate=False` runs the environment in-process (tests: same bytes, faster).
    """
    output = output.resolve()
    with contextlib.chdir(PACKAGE_ROOT):
        env = Environment(
            scenario.handler,
            output=output,
            profile=scenario.profile,
            deterministic=True,
            timeout_ns=scenario.timeout_ns,
            freeze_for_ns=scenario.freeze_for_ns,
            reclaim_after=scenario.reclaim_after,
            isolate=isolate,
        )
        try:
            for i in range(scenario.n):
                env.invoke(scenario.event(i))
        finally:
            env.shutdown("end")
    return output


def main(argv: list[str] | None = None) -> int:
    """Record the scenarios (all, or those named) into the output folder."""
    parser = argparse.ArgumentParser(prog="python -m lambda_trace.examples.record_all")
    parser.add_argument("folder", type=Path, help="where to write <scenario id>.jsonl")
    parser.add_argument("ids", nargs="*", help="only these scenarios")
    args = parser.parse_args(argv)
    known = {s.id for s in SCENARIOS}
    unknown = [i for i in args.ids if i not in known]
    if unknown:
        print(f"unknown scenario: {', '.join(unknown)}", file=sys.stderr)
        return 2
    args.folder.mkdir(parents=True, exist_ok=True)
    for scenario in SCENARIOS:
        if args.ids and scenario.id not in args.ids:
            continue
        path = record(scenario, args.folder / scenario.trace_name)
        print(f"{scenario.id:24} -> {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
