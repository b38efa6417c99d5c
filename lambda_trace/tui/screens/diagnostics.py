"""The diagnostics screen: lines the loader skipped and why."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.strip import Strip
from textual.widgets import Footer, Static

from ...model.trace import Trace
from ..describe import literal
from ..widgets.line_list import LineList, text_strip


class DiagnosticsList(LineList):
    """One line per diagnostic: line number, severity, reason."""

    def __init__(self, trace: Trace, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.trace = trace

    def on_mount(self) -> None:
        self.set_count(len(self.trace.diagnostics))

    def render_item(self, index: int, width: int) -> Strip:
        d = self.trace.diagnostics[index]
        text = Text(no_wrap=True)
        text.append(f" line {d.line:>7}  ", "bold")
        text.append(f"{d.severity:<8}", "yellow" if d.severity == "warning" else "red")
        text.append(literal(d.reason))
        return text_strip(text, width, self.rich_style, self.app.console)


class DiagnosticsScreen(Screen[None]):
    """What was wrong with the file, line by line."""

    BINDINGS = [
        Binding(
            "escape,D",
            "app.pop_screen",
            "Back",
            id="diagnostics.close",
            tooltip="Back to the timeline",
        ),
    ]

    def __init__(self, trace: Trace) -> None:
        super().__init__()
        self.trace = trace

    def compose(self) -> ComposeResult:
        t = self.trace
        text = Text(no_wrap=True)
        text.append(" Diagnostics ", "bold reverse")
        text.append(f"  {t.error_count} lines skipped, {t.diagnostic_count} problems in all")
        if t.truncated:
            text.append("  (the trace ends mid-line)", "yellow")
        if t.diagnostic_count > len(t.diagnostics):
            text.append(f"  first {len(t.diagnostics)} shown", "dim")
        yield Static(text, id="diagnostics-header")
        diagnostics = DiagnosticsList(t, id="diagnostics")
        # A plain str here would be parsed as markup: a path is data.
        diagnostics.border_title = Text(literal(t.path))
        yield diagnostics
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(DiagnosticsList).focus()
