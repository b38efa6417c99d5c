"""The invocation list: one line per invocation with its start, outcome, response and findings."""

from __future__ import annotations

from rich.text import Text
from textual.strip import Strip

from ...model.trace import Trace
from ...model.units import format_ns
from .line_list import LineList, text_strip

_HEADER = f" {'#':>4}  {'request':<8}  {'start':<5}  {'outcome':<8}  {'response':<12}  {'held':>8}  {'findings':>8}"


class InvocationList(LineList):
    """Invocations 1..N; the cursor picks the one the timeline follows."""

    COMPONENT_CLASSES = LineList.COMPONENT_CLASSES | {
        "invocation-list--bad",
        "invocation-list--leaky",
        "invocation-list--muted",
    }
    DEFAULT_CSS = """
    InvocationList > .invocation-list--bad { color: $error; text-style: bold; }
    InvocationList > .invocation-list--leaky { color: $warning; text-style: bold; }
    InvocationList > .invocation-list--muted { color: $text-muted; }
    """
    header_lines = 1

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.trace: Trace | None = None

    def set_trace(self, trace: Trace) -> None:
        self.trace = trace
        self.set_count(len(trace.invocations))

    def render_header(self, y: int, width: int) -> Strip:
        style = self.get_component_rich_style("line-list--header")
        return text_strip(Text(_HEADER, style=style), width, self.rich_style, self.app.console)

    def render_item(self, index: int, width: int) -> Strip:
        assert self.trace is not None
        trace = self.trace
        inv = trace.invocations[index]
        muted = self.get_component_rich_style("invocation-list--muted")
        bad = self.get_component_rich_style("invocation-list--bad")
        leaky = self.get_component_rich_style("invocation-list--leaky")
        findings = trace.findings_for_invocation(inv.index)
        leaks = sum(1 for f in findings if f.is_leak)
        outcome = inv.outcome or "—"
        via = inv.response_via or ("runtime" if inv.respond_post_ns is not None else "—")
        text = Text(no_wrap=True)
        text.append(f" {'#' + str(inv.index):>4}  ")
        text.append(f"{inv.request_id[:8]:<8}  ", muted)
        text.append(f"{'cold' if inv.cold else 'warm':<5}  ", leaky if inv.cold else muted)
        text.append(f"{outcome:<8}  ", bad if outcome != "success" else "")
        text.append(f"{via[:12]:<12}  ")
        text.append(
            f"{format_ns(inv.held_ns) if inv.held_ns else '—':>8}  ",
            leaky if inv.held_ns else muted,
        )
        label = f"{leaks}" + (f" +{len(findings) - leaks}" if len(findings) > leaks else "")
        text.append(f"{label:>8}", leaky if leaks else muted)
        return text_strip(text, width, self.rich_style, self.app.console)
