"""`lambda-trace record HANDLER`: run a handler invocation after invocation in the emulated
environment and write the trace, with one summary line per invocation on stderr."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import orjson

from ..cli import CliError
from ..model.units import format_ns
from ..runtime.handler import HandlerSpecError, check_handler_spec
from ..runtime.invocation import InvokeResult
from ..runtime.supervisor import Environment

DEFAULT_INVOCATIONS = 3
"""Without events or -n: enough invocations for work to cross a freeze and be seen doing so."""


def load_events(files: list[str], lines_file: str | None) -> list[Any]:
    """Events from --event files (one JSON document each) and --events (one per line)."""
    events: list[Any] = []
    for name in files:
        data = _read(name)
        try:
            events.append(orjson.loads(data))
        except orjson.JSONDecodeError as exc:
            raise CliError(f"{name}:{exc.lineno}: event file is not JSON ({exc.msg})") from None
    if lines_file:
        data = _read(lines_file)
        for number, line in enumerate(data.splitlines(), 1):
            if not line.strip():
                continue
            try:
                events.append(orjson.loads(line))
            except orjson.JSONDecodeError as exc:
                raise CliError(f"{lines_file}:{number}: not JSON ({exc.msg})") from None
    return events


def _read(name: str) -> bytes:
    path = Path(name)
    if not path.exists():
        raise CliError(f"event file not found: {name}")
    if path.is_dir():
        raise CliError(f"event file is a directory: {name}")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise CliError(f"cannot read event file {name}: {exc.strerror}") from None


def summary_line(r: InvokeResult) -> str:
    """One line per invocation, e.g. `#2 warm  success  via succeed  2.1 ms  pending 1`."""
    parts = [f"#{r.index}", "cold" if r.cold else "warm", r.outcome]
    parts.append(f"via {r.response_via}" if r.response_via else "via runtime")
    if r.held_ns:
        parts.append(f"held {format_ns(r.held_ns)}")
    parts.append(format_ns(r.duration_ns))
    if r.error_type:
        parts.append(f"{r.error_type}: {r.error_message}"[:80])
    label = "pending" if r.env_alive else "lost"
    parts.append(f"{label} {len(r.pending)}")
    return "  ".join(parts)


def run(args: argparse.Namespace) -> int:
    """Record `-n` invocations of HANDLER into the trace file."""
    try:
        spec = check_handler_spec(args.handler)
    except HandlerSpecError as exc:
        raise CliError(str(exc)) from None
    events = load_events(args.event, args.events)
    count = args.n or (len(events) if events else DEFAULT_INVOCATIONS)
    if not events:
        events = [{}]
    output = Path(args.output or f"{spec.module}.trace.jsonl")
    if output.name.endswith(".gz"):
        raise CliError(f"{output}: record writes plain .jsonl (compress it afterwards with gzip)")
    if output.is_dir():
        raise CliError(f"{output}: is a directory")
    if not output.parent.exists():
        raise CliError(f"cannot write trace {output}: no such directory {output.parent}")
    options: dict[str, Any] = {"profile": args.profile, "deterministic": args.deterministic}
    if args.clock:
        options["clock"] = args.clock
    if args.seed is not None:
        options["seed"] = args.seed
    if args.timeout is not None:
        if args.timeout <= 0:
            raise CliError("invalid duration for --timeout: must be more than 0")
        options["timeout_ns"] = args.timeout
    if args.freeze_for is not None:
        options["freeze_for_ns"] = args.freeze_for
    if args.thaw_order:
        options["thaw_order"] = args.thaw_order
    options["reclaim_after"] = args.reclaim_after
    options["record_payloads"] = args.record_payloads
    try:
        env = Environment(args.handler, output=output, **options)
    except OSError as exc:
        raise CliError(str(exc)) from None
    handler_error: str | None = None
    try:
        for i in range(count):
            result = env.invoke(events[i % len(events)])
            print(summary_line(result), file=sys.stderr)
            if result.init_error:
                # The handler cannot run at all (it fails to import, is missing, or the profile
                # refuses it): the failed INIT is in the trace; the command is bad input.
                handler_error = result.handler_error or f"INIT failed: {result.init_error}"
                break
    finally:
        env.shutdown("end")
    if handler_error:
        raise CliError(f"{handler_error} (trace kept in {output})")
    print(f"trace written to {output}", file=sys.stderr)
    return 0
