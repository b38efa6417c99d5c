"""The `lambda-trace` command line: argument parsing and error handling for every subcommand.

Each subcommand's work lives in `lambda_trace/commands/<name>.py` (`run(args) -> exit code`), imported
only when used so `report`, `diff` and `validate` never pay for Textual.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import NoReturn

from . import __version__
from .model.reader import TraceFormatError
from .model.units import parse_duration_ns

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_BAD_INPUT = 2


class CliError(Exception):
    """Bad input from the user: printed as one line on stderr, exit code 2."""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage dump) and exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def duration(text: str) -> int:
    """argparse type: a duration in nanoseconds."""
    try:
        return parse_duration_ns(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid count {text!r} (a whole number)") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"invalid count {text!r} (must be at least 1)")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="lambda-trace",
        description="Record, analyse and view what AWS Lambda handlers leak between invocations.",
    )
    parser.add_argument("--version", action="version", version=f"lambda-trace {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    p = sub.add_parser("record", help="run a handler in the emulated environment and trace it")
    p.add_argument("handler", metavar="HANDLER", help="path/to/file.py:function or module:function")
    p.add_argument("--event", action="append", default=[], metavar="FILE", help="event JSON file")
    p.add_argument("--events", metavar="FILE.jsonl", help="one event per line")
    p.add_argument(
        "-n", type=_positive_int, metavar="N", help="invocations (default: one per event, or 3)"
    )
    p.add_argument(
        "--profile",
        choices=["node", "node24", "python"],
        default="node",
        help="runtime rules: nodejs18-22 (default), nodejs24.x, or python (awslambdaric)",
    )
    p.add_argument(
        "--freeze-for", type=duration, default=None, metavar="DUR", help="time frozen (1s)"
    )
    p.add_argument(
        "--timeout", type=duration, default=None, metavar="DUR", help="function timeout (3s)"
    )
    p.add_argument(
        "--clock",
        choices=["wall", "virtual"],
        default=None,
        help="wall: real time (default); virtual: jumps to the next timer, fixed step ticks",
    )
    p.add_argument(
        "--deterministic", action="store_true", help="virtual clock + fixed seed: same bytes"
    )
    p.add_argument("--seed", type=int, default=None, help="seed for request ids")
    p.add_argument(
        "--thaw-order",
        choices=["timers-first", "handler-first"],
        default=None,
        help="after a thaw, run overdue timers before the handler (default) or after it",
    )
    p.add_argument(
        "--reclaim-after",
        type=_positive_int,
        default=None,
        metavar="N",
        help="end the environment after N invocations (reason spindown)",
    )
    p.add_argument(
        "--record-payloads",
        action="store_true",
        help="record events and results (secrets redacted); default: size and hash only",
    )
    p.add_argument(
        "-o", "--output", metavar="OUT.jsonl", help="trace file (default MODULE.trace.jsonl)"
    )
    p.set_defaults(module="record")

    p = sub.add_parser("view", help="open a trace in the terminal viewer")
    p.add_argument("trace", metavar="TRACE")
    p.add_argument("--invocation", type=int, default=None, metavar="N")
    p.set_defaults(module="view")

    p = sub.add_parser("report", help="list what leaked between invocations")
    p.add_argument("trace", metavar="TRACE")
    p.add_argument("--json", action="store_true", help="print the lambda-trace.report/1 document")
    p.add_argument("--fail-on-leak", action="store_true", help="exit 1 when anything leaked")
    p.set_defaults(module="report")

    p = sub.add_parser("diff", help="compare two invocations")
    p.add_argument("a", metavar="A[@N]")
    p.add_argument("b", metavar="B[@N]")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true")
    fmt.add_argument("--text", action="store_true")
    p.add_argument("--threshold", default=None, help="timing change to report, e.g. 20%% or 5ms")
    p.set_defaults(module="diff")

    p = sub.add_parser("export", help="convert a trace for Perfetto or OpenTelemetry")
    p.add_argument("trace", metavar="TRACE")
    p.add_argument("--format", choices=["perfetto", "otlp"], required=True)
    p.add_argument("-o", "--output", metavar="FILE")
    p.set_defaults(module="export")

    p = sub.add_parser("validate", help="strictly check a trace file")
    p.add_argument("trace", metavar="TRACE")
    p.set_defaults(module="validate")

    p = sub.add_parser("schema", help="print the JSON Schema of a trace line")
    p.set_defaults(module="schema")

    p = sub.add_parser("demo", help="record the bundled scenarios and open the viewer on them")
    p.add_argument("--no-record", action="store_true", help="open the committed traces/ instead")
    p.add_argument("-o", "--output", metavar="DIR", help="record into DIR and keep the traces")
    p.set_defaults(module="demo")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `lambda-trace` console script."""
    args = build_parser().parse_args(argv)
    try:
        module = importlib.import_module(f"lambda_trace.commands.{args.module}")
        return int(module.run(args))
    except CliError as exc:
        print(f"lambda-trace {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except TraceFormatError as exc:
        print(f"lambda-trace {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # Output piped into `head` and closed: not an error worth a traceback.
        sys.stderr.close()
        return EXIT_OK
    except OSError as exc:
        # Output that cannot be written (a full disk, /dev/full): one line, like any bad input.
        reason = exc.strerror or str(exc)
        where = f" {exc.filename}" if exc.filename else ""
        print(
            f"lambda-trace {args.command}: error: cannot write output{where}: {reason}",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
