"""`lambda-trace export TRACE --format perfetto|otlp [-o FILE]`: convert a trace for other tools.

Streams from the trace to the output; stdout when `-o` is absent or `-`. Exit 0 when written
(lines the reader skipped are counted on stderr), 2 on a bad trace or an output that cannot be written.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import IO

from ..cli import CliError
from ..model.export_common import ExportStats
from ..model.reader import TraceReader


def run(args: argparse.Namespace) -> int:
    """Export `args.trace` in `args.format` to `args.output` (or stdout)."""
    # The trace is opened first so a bad trace never leaves an empty output file behind.
    with TraceReader(args.trace) as reader:
        output: str | None = args.output if args.output not in (None, "-") else None
        if output is None:
            _export(args.format, reader, sys.stdout.buffer, args.trace)
            sys.stdout.buffer.flush()
        else:
            _export_to_file(args.format, reader, output, args.trace)
        if reader.diagnostic_count:
            print(
                f"lambda-trace export: {reader.path}: {reader.diagnostic_count:,} line(s) skipped "
                "or flagged while reading (see `lambda-trace validate`)",
                file=sys.stderr,
            )
    return 0


def _export_to_file(fmt: str, reader: TraceReader, output: str, source: str) -> None:
    path = Path(output)
    try:
        out = open(path, "wb")  # noqa: SIM115 - closed below, removed on failure
    except OSError as exc:
        raise CliError(f"cannot write {output}: {exc.strerror or exc}") from None
    try:
        with out:
            _export(fmt, reader, out, source)
    except OSError as exc:
        # Half a JSON document is worse than none.
        try:
            os.unlink(path)
        except OSError:
            pass
        raise CliError(f"cannot write {output}: {exc.strerror or exc}") from None


def _export(fmt: str, reader: TraceReader, out: IO[bytes], source: str) -> ExportStats:
    if fmt == "perfetto":
        from ..model.export_perfetto import export_perfetto

        return export_perfetto(reader.header, reader, out, source=Path(source).name)
    if fmt == "otlp":
        from ..model.export_otlp import export_otlp

        return export_otlp(reader.header, reader, out)
    raise CliError(f"unknown export format {fmt!r} (use perfetto or otlp)")
