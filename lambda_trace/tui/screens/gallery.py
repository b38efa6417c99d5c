"""The scenario gallery: the first screen of `lambda-trace demo`, one line per recorded scenario;
Enter opens its trace on the main screen, Escape or q comes back.

It takes plain `GalleryEntry` data (the demo command builds them from the example catalogue), so
the viewer never imports the examples or the runtime.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.strip import Strip
from textual.widgets import Footer, Static

from ...model.load import load_trace
from ...model.reader import TraceFormatError
from ..describe import literal
from ..keys import GALLERY_BINDINGS
from ..widgets.line_list import LineList, text_strip
from .main import MainScreen

SHORT: dict[str, str] = {
    "crossed_invocation": "crossed",
    "pending_at_freeze": "pending",
    "lost": "lost",
    "dropped": "dropped",
    "held_response": "held",
    "timeout_keepalive": "timeout",
    "error_misattributed": "error",
    "log_misattributed": "logs",
    "kept_alive": "kept",
}
"""Finding categories in one word each, so a gallery line fits 120 columns."""


@dataclass(frozen=True)
class GalleryEntry:
    """One scenario as the gallery shows it."""

    id: str
    title: str
    story: str
    profile: str
    expected: tuple[str, ...]
    """Finding categories the scenario is meant to show."""
    path: str
    """Its trace file."""
    command: str = ""
    """The `lambda-trace record` command that makes the trace."""


@dataclass(frozen=True)
class Found:
    """What the trace actually holds: leak and informational counts per category."""

    leaks: int
    info: int
    categories: tuple[tuple[str, int], ...]
    error: str | None = None


def count_findings(path: str) -> Found:
    """Load a trace and count its findings (a small trace: ~20 ms)."""
    try:
        trace = load_trace(path)
    except (TraceFormatError, OSError) as exc:
        return Found(0, 0, (), error=str(exc))
    try:
        per: dict[str, int] = {}
        for f in trace.findings:
            per[f.category] = per.get(f.category, 0) + 1
        leaks = len(trace.leaks)
        return Found(leaks, len(trace.findings) - leaks, tuple(per.items()))
    finally:
        trace.close()


class ScenarioList(LineList):
    """Scenarios, one line each: number, title, profile, expected findings, what was found."""

    COMPONENT_CLASSES = LineList.COMPONENT_CLASSES | {
        "scenario-list--muted",
        "scenario-list--leaky",
        "scenario-list--clean",
    }
    DEFAULT_CSS = """
    ScenarioList > .scenario-list--muted { color: $text-muted; }
    ScenarioList > .scenario-list--leaky { color: $warning; text-style: bold; }
    ScenarioList > .scenario-list--clean { color: $success; }
    """
    header_lines = 1
    PROFILE_W = 7
    EXPECTED_W = 30
    FOUND_W = 10

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.entries: list[GalleryEntry] = []
        self.found: dict[int, Found] = {}

    def set_entries(self, entries: Sequence[GalleryEntry]) -> None:
        self.entries = list(entries)
        self.set_count(len(self.entries))

    def set_found(self, index: int, found: Found) -> None:
        self.found[index] = found
        self.clear_cache()

    def _title_width(self, width: int) -> int:
        return max(width - 5 - self.PROFILE_W - self.EXPECTED_W - self.FOUND_W - 6, 10)

    def render_header(self, y: int, width: int) -> Strip:
        tw = self._title_width(width)
        line = (
            f" {'#':>2}  {'scenario':<{tw}}  {'profile':<{self.PROFILE_W}}  "
            f"{'meant to show':<{self.EXPECTED_W}}  {'found':>{self.FOUND_W}}"
        )
        style = self.get_component_rich_style("line-list--header")
        return text_strip(Text(line, style=style), width, self.rich_style, self.app.console)

    def render_item(self, index: int, width: int) -> Strip:
        entry = self.entries[index]
        muted = self.get_component_rich_style("scenario-list--muted")
        tw = self._title_width(width)
        title = literal(entry.title)
        if len(title) > tw:
            title = title[: tw - 1] + "…"
        expected = " ".join(SHORT.get(c, c) for c in entry.expected) or "nothing leaks"
        text = Text(no_wrap=True)
        text.append(f" {index + 1:>2}  ", muted)
        text.append(f"{title:<{tw}}  ")
        text.append(f"{literal(entry.profile):<{self.PROFILE_W}}  ", muted)
        text.append(f"{expected[: self.EXPECTED_W]:<{self.EXPECTED_W}}  ")
        found = self.found.get(index)
        if found is None:
            text.append(f"{'…':>{self.FOUND_W}}", muted)
        elif found.error:
            text.append(f"{'unreadable':>{self.FOUND_W}}", "bold red")
        elif found.leaks:
            label = f"{found.leaks} leak" + ("s" if found.leaks > 1 else "")
            text.append(
                f"{label:>{self.FOUND_W}}", self.get_component_rich_style("scenario-list--leaky")
            )
        else:
            label = "clean" if not found.info else f"{found.info} info"
            text.append(
                f"{label:>{self.FOUND_W}}", self.get_component_rich_style("scenario-list--clean")
            )
        return text_strip(text, width, self.rich_style, self.app.console)


class ScenarioScreen(MainScreen):
    """The main screen opened from the gallery: Escape or q closes replay, else goes back to it."""

    BINDINGS: ClassVar[list[BindingType]] = list(GALLERY_BINDINGS)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "back":
            return True
        return super().check_action(action, parameters)

    def action_back(self) -> None:
        # This screen's escape binding replaces MainScreen's (replay.close), so it does both.
        if self.replaying:
            self.replaying = False
        else:
            self.app.pop_screen()


class GalleryScreen(Screen[None]):
    """Every scenario with the story behind it; Enter opens the highlighted one's trace."""

    class Counted(Message):
        """The findings of entry `index` are counted."""

        def __init__(self, index: int, found: Found) -> None:
            super().__init__()
            self.index = index
            self.found = found

    def __init__(self, entries: Sequence[GalleryEntry], *, source: str = "") -> None:
        super().__init__()
        self.entries = list(entries)
        self.source = source
        """Where the traces are, for the header line."""

    def compose(self) -> ComposeResult:
        header = Text(no_wrap=True, overflow="ellipsis")
        header.append(" lambda-trace ", "bold reverse")
        header.append(" scenario gallery ", "bold")
        header.append(f" {len(self.entries)} scenarios", "bold")
        header.append("   enter: open · esc: back · q: quit", "dim")
        if self.source:
            header.append("   traces in ", "dim")
            header.append(literal(self.source))
        yield Static(header, id="gallery-header")
        scenarios = ScenarioList(id="scenarios")
        scenarios.border_title = "Scenarios"
        yield scenarios
        with VerticalScroll(id="scenario-pane") as pane:
            pane.border_title = "Scenario"
            yield Static(id="scenario")
        yield Footer()

    def on_mount(self) -> None:
        scenarios = self.query_one(ScenarioList)
        scenarios.set_entries(self.entries)
        scenarios.focus()
        self._describe(0)
        self.count()

    @work(thread=True, exclusive=True, exit_on_error=False, group="gallery")
    def count(self) -> None:
        """Load every trace off the UI thread and count what it found (16 traces: ~0.3 s)."""
        for i, entry in enumerate(self.entries):
            self.post_message(self.Counted(i, count_findings(entry.path)))

    @on(Counted)
    def _counted(self, message: Counted) -> None:
        self.query_one(ScenarioList).set_found(message.index, message.found)
        if message.index == self.query_one(ScenarioList).cursor:
            self._describe(message.index)

    @on(LineList.Highlighted, "#scenarios")
    def _highlighted(self, message: LineList.Highlighted) -> None:
        self._describe(message.index)

    @on(LineList.Chosen, "#scenarios")
    def _chosen(self, message: LineList.Chosen) -> None:
        self.open_scenario(message.index)

    def open_scenario(self, index: int) -> None:
        """Open scenario `index` on the main screen."""
        if 0 <= index < len(self.entries):
            self.app.push_screen(ScenarioScreen(self.entries[index].path, None, None))

    def _describe(self, index: int) -> None:
        pane = self.query_one("#scenario", Static)
        if not 0 <= index < len(self.entries):
            pane.update(Text("No scenarios."))
            return
        entry = self.entries[index]
        text = Text()
        text.append(literal(entry.title), "bold")
        text.append("\n")
        text.append(entry.story)
        text.append("\n\n")
        text.append(f"{'meant to show':<14}", "dim")
        text.append(", ".join(entry.expected) or "nothing leaks")
        found = self.query_one(ScenarioList).found.get(index)
        text.append(f"\n{'found':<14}", "dim")
        if found is None:
            text.append("counting…", "dim")
        elif found.error:
            text.append(found.error, "bold red")
        else:
            text.append(", ".join(f"{c} ({n})" for c, n in found.categories) or "nothing")
        text.append(f"\n{'trace':<14}", "dim")
        text.append(entry.path)
        if entry.command:
            text.append(f"\n{'recorded by':<14}", "dim")
            text.append(entry.command)
        pane.update(text)
