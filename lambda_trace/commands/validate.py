"""`lambda-trace validate TRACE`: strict check of a trace file, one `path:line: reason` per problem.

Exit 0 clean (warnings allowed), 1 when the trace has problems, 2 when it cannot be read as a trace.
"""

from __future__ import annotations

import argparse
import sys

from ..model.reader import MAX_KEPT_DIAGNOSTICS, TraceReader


def run(args: argparse.Namespace) -> int:
    """Validate every line; report all problems rather than stopping at the first."""
    # Tolerant reading collects every problem; the header is fatal either way (TraceFormatError,
    # turned into exit 2 by cli.main).
    with TraceReader(args.trace) as reader:
        events = sum(1 for _ in reader)
        for diagnostic in reader.diagnostics:
            print(diagnostic)
        hidden = reader.diagnostic_count - len(reader.diagnostics)
        if hidden > 0:
            print(f"{reader.path}: ... and {hidden:,} more (only {MAX_KEPT_DIAGNOSTICS} shown)")
        if reader.error_count:
            print(
                f"{reader.path}: {reader.error_count:,} problem(s) in {reader.lines_read:,} lines",
                file=sys.stderr,
            )
            return 1
        print(f"{reader.path}: ok ({events + 1:,} events)", file=sys.stderr)
        return 0
