"""`lambda-trace diff A[@N] B[@N] [--json | --text] [--threshold T]`: compare two invocations.

`@N` picks invocation N (numbered from 1); a side without `@N` takes the other side's N, and with
neither every invocation is paired with the one of the same index. Exit 0 when equivalent, 1 when
they differ, 2 on bad input (one line naming the file and the invocation). On a terminal without
`--text` or `--json` the diff screen opens instead.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass

import orjson

from ..cli import EXIT_FINDINGS, EXIT_OK, CliError
from ..model.diff import Diff, diff_traces, parse_threshold
from ..model.diff_text import render_diff_text
from ..model.load import load_trace
from ..model.trace import Trace


@dataclass(frozen=True)
class Selection:
    """`path[@N]` as typed."""

    path: str
    index: int | None


def parse_selection(text: str) -> Selection:
    """Split `path@N`; a path that exists as written (even with an `@`) is taken whole."""
    path, at, suffix = text.rpartition("@")
    if not at or os.path.exists(text) or not path:
        return Selection(text, None)
    try:
        index = int(suffix)
    except ValueError:
        raise CliError(f"{path}: invalid invocation @{suffix} (a whole number, e.g. @2)") from None
    if index < 1:
        raise CliError(f"{path}: invalid invocation @{suffix} (invocations are numbered from 1)")
    return Selection(path, index)


def _check(sel: Selection, index: int | None, trace: Trace) -> None:
    if index is None:
        return
    count = len(trace.invocations)
    if not any(inv.index == index for inv in trace.invocations):
        raise CliError(f"{sel.path}: no invocation @{index} (the trace has {count})")


def build(args: argparse.Namespace) -> Diff:
    """Parse the selections, load both traces (once when they are the same file), compare."""
    sel_a, sel_b = parse_selection(args.a), parse_selection(args.b)
    try:
        threshold = parse_threshold(args.threshold)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    index_a = sel_a.index if sel_a.index is not None else sel_b.index
    index_b = sel_b.index if sel_b.index is not None else sel_a.index
    trace_a = load_trace(sel_a.path)
    same = os.path.abspath(sel_a.path) == os.path.abspath(sel_b.path)
    trace_b = trace_a if same else load_trace(sel_b.path)
    _check(sel_a, index_a, trace_a)
    _check(sel_b, index_b, trace_b)
    return diff_traces(trace_a, trace_b, index_a, index_b, threshold=threshold)


def _use_color() -> bool:
    # https://no-color.org: any non-empty NO_COLOR disables colour.
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def run(args: argparse.Namespace) -> int:
    """Compare, print (or show) the diff, return 0 when equivalent and 1 when not."""
    diff = build(args)
    try:
        if args.json:
            data = orjson.dumps(diff.to_json(), option=orjson.OPT_INDENT_2)
            sys.stdout.write(data.decode() + "\n")
        elif args.text or not sys.stdout.isatty():
            sys.stdout.write(render_diff_text(diff, color=_use_color()))
        else:
            from ..tui.diff_app import DiffViewer

            DiffViewer(diff).run()
        sys.stdout.flush()
    finally:
        diff.a.close()
        diff.b.close()
    return EXIT_OK if diff.equivalent else EXIT_FINDINGS
