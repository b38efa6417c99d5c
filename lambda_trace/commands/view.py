"""`lambda-trace view TRACE [--invocation N]`: open the terminal viewer on a trace.

The header is checked before the app starts, so a file that is not a trace gets one line on
stderr and exit 2 (cli.main prints the TraceFormatError), never a half-drawn screen.
"""

from __future__ import annotations

import argparse

from ..cli import CliError
from ..model.reader import TraceReader


def run(args: argparse.Namespace) -> int:
    """Check the header, then run the viewer; the full load happens inside, in a worker."""
    with TraceReader(args.trace) as reader:
        header = reader.header
    if args.invocation is not None and args.invocation < 1:
        raise CliError(f"invalid invocation {args.invocation} (invocations are numbered from 1)")
    from ..tui.app import TraceViewer

    TraceViewer(args.trace, header=header, invocation=args.invocation).run()
    return 0
