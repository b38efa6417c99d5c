"""`lambda-trace report TRACE [--json] [--fail-on-leak]`: what leaked, per invocation.

Exit 0 clean, 1 with `--fail-on-leak` when a finding other than `kept_alive` exists, 2 when the
file cannot be read as a trace (TraceFormatError, printed as one line by cli.main).
"""

from __future__ import annotations

import argparse
import os
import sys

import orjson

from ..model.load import load_trace
from ..model.report import build_report, render_text


def _use_color() -> bool:
    # https://no-color.org: any non-empty NO_COLOR disables colour.
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def run(args: argparse.Namespace) -> int:
    """Load and analyse the trace, print the report, return the exit code."""
    trace = load_trace(args.trace)
    try:
        if args.json:
            data = orjson.dumps(build_report(trace), option=orjson.OPT_INDENT_2)
            sys.stdout.write(data.decode() + "\n")
        else:
            sys.stdout.write(render_text(trace, color=_use_color()))
        sys.stdout.flush()
    finally:
        trace.close()
    if args.fail_on_leak and trace.leaks:
        return 1
    return 0
