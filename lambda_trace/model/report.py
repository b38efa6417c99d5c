"""The `lambda-trace.report/1` document and its 80-column text rendering (plain or ANSI colour)."""

from __future__ import annotations

import textwrap
from typing import Any

from .trace import CATEGORIES, Finding, Invocation, Trace
from .units import format_ns

REPORT_SCHEMA = "lambda-trace.report/1"
WIDTH = 80


def _ms(ns: int | None) -> float | None:
    return None if ns is None else round(ns / 1_000_000, 3)


def build_report(trace: Trace) -> dict[str, Any]:
    """The `report --json` document (DESIGN.md, contract)."""
    by_category = dict.fromkeys(CATEGORIES, 0)
    for f in trace.findings:
        by_category[f.category] += 1
    outcomes: dict[str, int] = {}
    for inv in trace.invocations:
        key = inv.outcome or "unfinished"
        outcomes[key] = outcomes.get(key, 0) + 1
    return {
        "schema": REPORT_SCHEMA,
        "trace": trace.path,
        "profile": trace.profile,
        "handler": trace.handler,
        "invocations": [_invocation_json(trace, inv) for inv in trace.invocations],
        "findings": [f.to_json() for f in trace.findings],
        "diagnostics": [str(d) for d in trace.diagnostics],
        "summary": {
            "invocations": len(trace.invocations),
            "cold_starts": sum(1 for inv in trace.invocations if inv.cold),
            "outcomes": outcomes,
            "findings": len(trace.findings),
            "leaks": sum(1 for f in trace.findings if f.is_leak),
            "by_category": by_category,
            "diagnostics": trace.diagnostic_count,
            "truncated": trace.truncated,
        },
    }


def _invocation_json(trace: Trace, inv: Invocation) -> dict[str, Any]:
    return {
        "index": inv.index,
        "request_id": inv.request_id,
        "env": inv.env,
        "cold": inv.cold,
        "outcome": inv.outcome,
        "response_via": inv.response_via,
        "held_ms": _ms(inv.held_ns),
        "duration_ms": _ms(inv.duration_ns),
        "pending_at_freeze": list(inv.pending_at_freeze),
        "findings": [f.id for f in trace.findings_for_invocation(inv.index)],
    }


# -- text -----------------------------------------------------------------------------------------

_RESET = "\x1b[0m"
_STYLES = {
    "bold": "\x1b[1m",
    "dim": "\x1b[2m",
    "red": "\x1b[31m",
    "green": "\x1b[32m",
    "yellow": "\x1b[33m",
    "cyan": "\x1b[36m",
}
_CATEGORY_STYLE = {
    "held_response": "yellow",
    "timeout_keepalive": "red",
    "kept_alive": "cyan",
}
_OUTCOME_STYLE = {"success": "green", "error": "red", "timeout": "red", "crash": "red"}


def plain(text: str) -> str:
    """Text from a trace made safe for a terminal: control characters shown escaped, never run."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() or ch == " " else repr(ch)[1:-1] for ch in text)


class _Painter:
    def __init__(self, color: bool) -> None:
        self.color = color

    def __call__(self, text: str, *styles: str) -> str:
        if not self.color or not styles:
            return text
        return "".join(_STYLES[s] for s in styles) + text + _RESET


def render_text(trace: Trace, *, color: bool = False, width: int = WIDTH) -> str:
    """The human report: header, diagnostics, then each invocation with its findings."""
    paint = _Painter(color)
    out: list[str] = []
    out.append(paint("lambda-trace report", "bold") + "  " + plain(trace.path))
    cold = sum(1 for inv in trace.invocations if inv.cold)
    out.append(
        f"handler {plain(trace.handler)} · profile {plain(trace.profile)} · "
        f"{len(trace.invocations)} invocation(s), {cold} cold"
    )
    counts = {c: 0 for c in CATEGORIES}
    for f in trace.findings:
        counts[f.category] += 1
    if trace.findings:
        parts = [f"{n} {c}" for c, n in counts.items() if n]
        out.extend(_wrap("findings: " + ", ".join(parts), width, ""))
    else:
        out.append(paint("no findings", "green"))
    if trace.diagnostic_count:
        out.append("")
        out.append(paint(f"{trace.diagnostic_count} problem(s) reading the trace:", "yellow"))
        for d in trace.diagnostics[:20]:
            out.extend(_wrap(plain(str(d)), width, "  "))
        if trace.diagnostic_count > 20:
            out.append(f"  ... and {trace.diagnostic_count - 20} more")
    listed = set()
    for inv in trace.invocations:
        listed.add(inv.index)
        out.append("")
        out.append(_invocation_line(inv, paint))
        for f in trace.findings_for_invocation(inv.index):
            out.extend(_finding_lines(f, paint, width))
    stray = [f for f in trace.findings if f.invocation not in listed]
    if stray:
        out.append("")
        out.append(paint("outside any invocation", "bold"))
        for f in stray:
            out.extend(_finding_lines(f, paint, width))
    return "\n".join(out) + "\n"


def _invocation_line(inv: Invocation, paint: _Painter) -> str:
    outcome = inv.outcome or "unfinished"
    parts = [
        paint(f"#{inv.index}", "bold"),
        "cold" if inv.cold else "warm",
        paint(outcome, _OUTCOME_STYLE.get(outcome, "yellow")),
    ]
    if inv.response_via is not None:
        parts.append(f"via {inv.response_via}")
    elif inv.respond_post_ns is not None:
        parts.append("answered by the runtime")
    if inv.held_ns:
        parts.append(f"held {format_ns(inv.held_ns)}")
    if inv.duration_ns is not None:
        parts.append(format_ns(inv.duration_ns))
    parts.append(paint(plain(inv.request_id), "dim"))
    return "  ".join(parts)


def _finding_lines(f: Finding, paint: _Painter, width: int) -> list[str]:
    style = _CATEGORY_STYLE.get(f.category, "red")
    lines = ["  " + paint(f.category, style, "bold")]
    lines.extend(_wrap(plain(f.message), width, "    "))
    return lines


def _wrap(text: str, width: int, indent: str) -> list[str]:
    return textwrap.wrap(
        text,
        width=width,
        initial_indent=indent,
        subsequent_indent=indent,
        break_on_hyphens=False,
    ) or [indent]
