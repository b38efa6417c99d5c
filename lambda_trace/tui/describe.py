"""Words for what the viewer shows: details of a work or invocation, one line per event.

Pure functions returning Rich `Text` built with `append` (never markup): names, log lines and
error messages from the trace appear exactly as written.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text

from ..model.replay import Moment
from ..model.trace import Finding, Invocation, Trace
from ..model.units import format_ns
from ..model.works import Work
from .layout import work_title

Styles = dict[str, str]
"""Style names used in the texts; the screen's CSS does not reach Rich Text, so these are plain."""

HEAD = "bold"
MUTED = "dim"
KEY = "bold cyan"
BAD = "bold red"
WARN = "yellow"
GOOD = "green"


_CONTROL = {i: "␣" if i == 9 else "⏎" for i in (*range(0, 32), 127)}


def literal(text: str) -> str:
    """Trace text made safe for one line: control characters shown, nothing interpreted."""
    return text.translate(_CONTROL)


def at(trace: Trace, ts: float | None) -> str:
    """A time as an offset from the trace start: `+1.00 s`."""
    if ts is None:
        return "—"
    return "+" + format_ns(ts - trace.start_ns)


def inv_name(index: int | None) -> str:
    if index is None:
        return "no invocation"
    return "INIT" if index == 0 else f"invocation #{index}"


def _field(text: Text, name: str, value: str | Text) -> None:
    text.append(f"{name:<12}", MUTED)
    text.append(value)
    text.append("\n")


def state_changes(trace: Trace, w: Work) -> list[tuple[int, str]]:
    """Every change of a work's state in time order: created, runs, freezes, thaws, the end."""
    out: list[tuple[int, str]] = [(w.created_ns, f"created in {inv_name(w.created_in)}")]
    words = {"running": "running", "waiting": "waiting", "frozen": "frozen"}
    previous = None
    for b, e, state in w.segments(trace.freezes, trace.end_ns):
        if state == "running":
            inv = trace.invocation_at(b)
            out.append((b, f"running ({format_ns(e - b)}) in {inv_name(inv)}"))
        elif state != previous:
            out.append((b, words[state]))
        previous = state
    if w.cancel_ns is not None:
        reason = f": {w.cancel_reason}" if w.cancel_reason else ""
        out.append((w.cancel_ns, f"cancel requested{reason}"))
    if w.done_ns is not None:
        status = w.status or "done"
        err = f" {w.error_type}: {w.error_message}" if w.error_type else ""
        out.append((w.done_ns, f"done: {status}{err}"))
    elif w.lost_ns is not None:
        out.append((w.lost_ns, "lost with its environment"))
    out.sort(key=lambda item: item[0])
    return out


def work_details(trace: Trace, w: Work) -> Text:
    """What a work is, where it came from, each state change, and its findings in words."""
    text = Text()
    text.append(work_title(w), HEAD)
    text.append("\n")
    _field(text, "type", w.type + (" (the handler)" if w.role == "handler" else ""))
    _field(text, "site", w.site)
    created = f"{inv_name(w.created_in)} at {at(trace, w.created_ns)}"
    _field(text, "created", created)
    if w.parent is not None:
        try:
            _field(text, "parent", work_title(trace.work(w.parent)))
        except KeyError:
            _field(text, "parent", f"#{w.parent} (not in the trace)")
    if not w.ref:
        _field(text, "ref", "unref'd: does not keep the loop alive")
    ran = ", ".join(f"#{i}" if i else "INIT" for i in w.ran_in) or "never"
    _field(text, "ran in", ran)
    status = w.status or ("lost" if w.lost_ns is not None else "pending at the end")
    _field(text, "status", Text(status, BAD if status in ("error", "lost") else ""))
    findings = trace.findings_for_work(w.id)
    if findings:
        text.append("\nFindings\n", HEAD)
        for f in findings:
            finding_text(f, text)
    if w.stack:
        text.append("\nStack\n", HEAD)
        for frame in w.stack:
            text.append(f"  {frame}\n")
    text.append("\nState changes\n", HEAD)
    for ts, what in state_changes(trace, w):
        text.append(f"  {at(trace, ts):>12}  ", MUTED)
        text.append(what)
        text.append("\n")
    text.rstrip()
    return text


def finding_text(f: Finding, text: Text | None = None) -> Text:
    """`● category  message` (appended to `text` when given)."""
    out = text if text is not None else Text()
    out.append("● " if f.is_leak else "○ ", BAD if f.is_leak else KEY)
    out.append(f.category, WARN if f.is_leak else KEY)
    out.append("  ")
    out.append(f.message)
    out.append("\n")
    return out


def invocation_details(trace: Trace, inv: Invocation) -> Text:
    """An invocation: id, start, how and when it answered, what held it, what it left behind."""
    text = Text()
    text.append(f"Invocation #{inv.index}", HEAD)
    text.append(f"  {'cold' if inv.cold else 'warm'} start, environment {inv.env}\n", MUTED)
    _field(text, "request id", inv.request_id)
    outcome = inv.outcome or "unfinished"
    _field(text, "outcome", Text(outcome, GOOD if outcome == "success" else BAD))
    if inv.error_type or inv.error_message:
        _field(text, "error", f"{inv.error_type or ''}: {inv.error_message or ''}")
    _field(text, "started", at(trace, inv.start_ns))
    if inv.respond_call_ns is not None:
        _field(text, "answered", f"{at(trace, inv.respond_call_ns)} via {inv.respond_via}")
    via = inv.response_via or "the runtime"
    _field(text, "posted", f"{at(trace, inv.respond_post_ns)} via {via}")
    if inv.held_ns:
        held_by = ", ".join(_work_name(trace, i) for i in inv.held_by) or "?"
        _field(text, "held", Text(f"{format_ns(inv.held_ns)} by {held_by}", WARN))
    if inv.duration_ns is not None:
        _field(text, "duration", format_ns(inv.duration_ns))
    if inv.freeze_ns is not None:
        thaw = f", thawed {at(trace, inv.thaw_ns)}" if inv.thaw_ns is not None else ""
        _field(text, "frozen", f"{at(trace, inv.freeze_ns)}{thaw}")
    if inv.pending_at_freeze:
        names = ", ".join(_work_name(trace, i) for i in inv.pending_at_freeze)
        _field(text, "pending", Text(names, WARN))
    created = trace.works_created_in(inv.index)
    _field(text, "works", f"{len(created)} created, {len(trace.works_ran_in(inv.index))} ran")
    findings = trace.findings_for_invocation(inv.index)
    if findings:
        text.append("\nFindings\n", HEAD)
        for f in findings:
            finding_text(f, text)
    text.rstrip()
    return text


def _work_name(trace: Trace, work_id: int) -> str:
    try:
        return work_title(trace.work(work_id))
    except KeyError:
        return f"#{work_id}"


def event_line(trace: Trace, i: int, event: dict[str, Any]) -> Text:
    """One event as a log line: time, invocation, kind, and what it concerns."""
    text = Text(no_wrap=True)
    text.append(f"{at(trace, trace.events.ts[i]):>11} ", MUTED)
    inv = trace.events.inv[i]
    text.append(f"{'#' + str(inv) if inv > 0 else ('init' if inv == 0 else '-'):>5} ", KEY)
    kind = str(event.get("kind", "?"))
    style = {"env.freeze": BAD, "env.thaw": GOOD, "error": BAD, "log": ""}.get(kind, HEAD)
    text.append(f"{kind:<14}", style)
    text.append(" ")
    work_id = event.get("work")
    if kind == "log":
        text.append(f"{event.get('stream', '')}: ", MUTED)
        text.append(literal(str(event.get("text", ""))))
        if isinstance(work_id, int):
            text.append(f"  ({literal(_work_name(trace, work_id))})", MUTED)
        return text
    if isinstance(work_id, int) and kind != "respond.call":
        text.append(literal(_work_name(trace, work_id)))
        text.append(" ")
    if kind == "error":
        text.append(literal(f"{event.get('type', '')}: {event.get('message', '')}"), BAD)
    elif kind == "work.done":
        text.append(str(event.get("status", "")))
    elif kind in ("respond.call", "respond.post"):
        text.append(f"via {event.get('via')} {event.get('status', '')}")
        if kind == "respond.post" and event.get("held_ns"):
            text.append(f" held {format_ns(int(event['held_ns']))}", WARN)
    elif kind == "env.freeze":
        pending = event.get("pending") or []
        text.append(f"{len(pending)} pending")
    elif kind == "env.thaw":
        text.append(f"after {format_ns(int(event.get('frozen_ns', 0)))}")
    elif kind == "invoke.start":
        text.append(f"{'cold' if event.get('cold') else 'warm'} {event.get('request_id', '')}")
    elif kind == "invoke.end":
        text.append(str(event.get("outcome", "")))
    elif kind == "env.shutdown":
        text.append(str(event.get("reason", "")))
    elif kind == "work.name":
        text.append(literal(f"renamed {event.get('name', '')}"))
    elif kind == "mark":
        text.append(literal(str(event.get("label", event.get("text", "")))))
    return text


def status_text(trace: Trace, m: Moment, *, playing: bool, speed: int) -> Text:
    """The replay status line: play state, position, time, invocation, frozen, what runs."""
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(" ▶ playing " if playing else " ⏸ paused ", GOOD if playing else WARN)
    text.append(f"{speed} ev/s  ", MUTED)
    text.append(f"event {m.index + 1}/{len(trace.events)}  ")
    text.append(at(trace, m.ts), HEAD)
    text.append("  ")
    text.append(inv_name(m.invocation))
    text.append("  ")
    text.append("FROZEN" if m.frozen else "live", "bold reverse cyan" if m.frozen else GOOD)
    text.append(f"  {m.kind}", MUTED)
    text.append("  running: ")
    names = [literal(_work_name(trace, w)) for w in sorted(m.running)]
    text.append(", ".join(names) if names else "nothing", GOOD if names else MUTED)
    idle = m.alive - len(m.running)
    text.append(f"  {max(idle, 0)} {'frozen' if m.frozen else 'waiting'}", MUTED)
    return text
