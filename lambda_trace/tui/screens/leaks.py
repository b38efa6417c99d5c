"""The leaks screen: every finding grouped by category; Enter jumps to it on the timeline."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from ...model.trace import DURATION_TIMINGS, Finding, Trace
from ...model.units import format_ns
from ..describe import at, finding_text, inv_name
from ..layout import work_title
from ..widgets.findings_list import FindingsList
from ..widgets.line_list import LineList


class LeaksScreen(Screen[Finding | None]):
    """Findings by category; dismisses with the finding to jump to (or None)."""

    BINDINGS = [
        Binding("escape,L", "close", "Back", id="leaks.close", tooltip="Back to the timeline"),
    ]

    def __init__(self, trace: Trace) -> None:
        super().__init__()
        self.trace = trace

    def compose(self) -> ComposeResult:
        leaks = len(self.trace.leaks)
        header = Text(no_wrap=True)
        header.append(" Leaks ", "bold reverse")
        header.append(f"  {leaks} leaks", "bold red" if leaks else "green")
        header.append(f", {len(self.trace.findings) - leaks} informational", "dim")
        header.append("   enter: show on the timeline   escape: back", "dim")
        yield Static(header, id="leaks-header")
        findings = FindingsList(id="findings")
        findings.border_title = "Findings"
        yield findings
        with VerticalScroll(id="finding-pane") as pane:
            pane.border_title = "Finding"
            yield Static(id="finding")
        yield Footer()

    def on_mount(self) -> None:
        findings = self.query_one(FindingsList)
        findings.set_trace(self.trace)
        findings.focus()
        first = next((i for i, it in enumerate(findings.items) if isinstance(it, Finding)), 0)
        findings.move_to(first)
        if not self.trace.findings:
            self.query_one("#finding", Static).update(Text("Nothing leaked in this trace."))

    @on(LineList.Highlighted, "#findings")
    def _highlighted(self, message: LineList.Highlighted) -> None:
        it = self.query_one(FindingsList).item(message.index)
        pane = self.query_one("#finding", Static)
        if isinstance(it, Finding):
            pane.update(self.describe(it))
        elif isinstance(it, str):
            pane.update(Text(f"{it}: select a finding below and press enter to see it."))

    def describe(self, f: Finding) -> Text:
        """The finding in words with the facts behind it."""
        text = finding_text(f)
        if f.work is not None:
            try:
                text.append(f"work        {work_title(self.trace.work(f.work))}\n")
            except KeyError:
                text.append(f"work        #{f.work}\n")
        if f.site:
            text.append(f"site        {f.site}\n")
        text.append(f"created in  {inv_name(f.created_in)}\n")
        if f.ran_in:
            text.append("ran in      " + ", ".join(inv_name(i) for i in f.ran_in) + "\n")
        for key, value in f.timings.items():
            label = key.removesuffix("_ns").replace("_", " ")
            shown = format_ns(value) if key in DURATION_TIMINGS else at(self.trace, value)
            text.append(f"{label:<12}{shown}\n", "dim")
        text.rstrip()
        return text

    @on(LineList.Chosen, "#findings")
    def _chosen(self, message: LineList.Chosen) -> None:
        it = self.query_one(FindingsList).item(message.index)
        if isinstance(it, Finding):
            self.dismiss(it)

    def action_close(self) -> None:
        self.dismiss(None)
