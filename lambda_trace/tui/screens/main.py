"""The main screen: header, invocation list, timeline, details, and the replay panel.

It loads the trace in a worker thread (progress messages, first frame at once) and owns the view
state: which row is selected, where the playhead is, whether replay plays.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.reactive import reactive
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, ProgressBar, Static

from ...model.diff import DEFAULT_THRESHOLD
from ...model.load import load_trace
from ...model.reader import TraceFormatError, TraceReader
from ...model.replay import ReplayIndex
from ...model.trace import Finding, Trace
from ..describe import invocation_details, literal, status_text, work_details
from ..keys import MAIN_BINDINGS, REPLAY_ONLY, SPEEDS
from ..layout import Row, build_rows
from ..widgets.event_log import EventLog
from ..widgets.invocation_list import InvocationList
from ..widgets.line_list import LineList
from ..widgets.timeline import Timeline

TICK_S = 0.05
"""Replay timer period; the speed decides how many events each tick advances."""


@dataclass
class Loaded:
    """What the loader worker hands over: the trace and the layouts built from it."""

    trace: Trace
    rows: list[Row]
    replay: ReplayIndex


def _read_header(path: str) -> dict[str, Any]:
    """The header line alone (cheap), so the first frame names the handler; {} if unreadable."""
    try:
        with TraceReader(path) as reader:
            return reader.header
    except TraceFormatError:
        return {}


class MainScreen(Screen[None]):
    """Invocations, timeline and details; replay below when asked."""

    BINDINGS: ClassVar[list[BindingType]] = list(MAIN_BINDINGS)

    replaying: reactive[bool] = reactive(False, init=False)
    """The replay panel (event log, status line, playhead) is shown."""
    playing: reactive[bool] = reactive(False, init=False)
    """The playhead advances by itself."""

    class LoadProgress(Message):
        """Bytes read so far; coalesced in the queue."""

        def __init__(self, done: int, total: int) -> None:
            super().__init__()
            self.done = done
            self.total = total

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, MainScreen.LoadProgress)

    class LoadFinished(Message):
        """The trace is loaded and laid out."""

        def __init__(self, loaded: Loaded) -> None:
            super().__init__()
            self.loaded = loaded

    class LoadFailed(Message):
        """The trace could not be loaded: `reason` is one line."""

        def __init__(self, reason: str) -> None:
            super().__init__()
            self.reason = reason

    def __init__(self, path: str, header: dict[str, Any] | None, invocation: int | None) -> None:
        super().__init__()
        self.path = path
        self.header = header if header is not None else _read_header(path)
        self.start_invocation = invocation
        self.trace: Trace | None = None
        self.rows: list[Row] = []
        self.replay: ReplayIndex | None = None
        self.playhead = -1
        self.speed_index = 3
        self._carry = 0.0
        self._timer: Timer | None = None
        self.failed: str | None = None
        self._inv_position: dict[int, int] = {}
        self.marked: list[int] = []
        """Invocations marked for a diff (two at most, oldest first)."""

    # -- layout ----------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static(self._header_text(), id="header")
        with Vertical(id="loading"):
            yield Static(Text(f"Loading {self.path} …"), id="loading-label")
            yield ProgressBar(total=100, show_eta=False, id="progress")
        invocations = InvocationList(id="invocations")
        invocations.border_title = "Invocations"
        yield invocations
        timeline = Timeline(id="timeline")
        timeline.border_title = "Timeline"
        yield timeline
        with Horizontal(id="bottom"):
            events = EventLog(id="events")
            events.border_title = "Events"
            yield events
            with VerticalScroll(id="details-pane") as pane:
                pane.border_title = "Details"
                yield Static(Text("Select a row of the timeline."), id="details")
        yield Static(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self._timer = self.set_interval(TICK_S, self._tick, pause=True)
        self.query_one(Timeline).focus()
        self.load()

    def _header_text(self) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(" lambda-trace ", "bold reverse")
        text.append(" ")
        text.append(literal(os.path.basename(self.path)), "bold")
        handler = str(self.header.get("handler", ""))
        profile = str(self.header.get("profile", ""))
        if handler:
            text.append("  handler ", "dim")
            text.append(literal(handler))
        if profile:
            text.append("  profile ", "dim")
            text.append(literal(profile))
        t = self.trace
        if t is None:
            text.append("  " + ("failed to load" if self.failed else "loading…"), "dim italic")
            return text
        cold = sum(1 for inv in t.invocations if inv.cold)
        text.append(f"  {len(t.invocations)} invocations ", "bold")
        text.append(f"({cold} cold)", "dim")
        leaks = len(t.leaks)
        text.append(f"  {leaks} leaks", "bold red" if leaks else "green")
        if len(t.findings) > leaks:
            text.append(f" +{len(t.findings) - leaks} info", "dim")
        if t.diagnostic_count:
            text.append(f"  {t.diagnostic_count} skipped lines", "yellow")
        if self.marked:
            text.append("  marked " + ", ".join(f"#{i}" for i in self.marked), "bold cyan")
        return text

    # -- loading ---------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="load")
    def load(self) -> None:
        """Read, index and analyse the trace off the UI thread; report progress by messages."""

        def progress(done: int, total: int) -> None:
            self.post_message(self.LoadProgress(done, total))

        try:
            trace = load_trace(self.path, progress=progress)
            loaded = Loaded(trace, build_rows(trace), ReplayIndex(trace))
        except TraceFormatError as exc:
            self.post_message(self.LoadFailed(str(exc)))
            return
        except Exception as exc:  # a bug must not leave the user with a traceback
            self.post_message(self.LoadFailed(f"{type(exc).__name__}: {exc}"))
            return
        self.post_message(self.LoadFinished(loaded))

    @on(LoadProgress)
    def _progress(self, message: LoadProgress) -> None:
        bar = self.query_one("#progress", ProgressBar)
        bar.update(total=max(message.total, 1), progress=message.done)

    @on(LoadFailed)
    def _failed(self, message: LoadFailed) -> None:
        self.failed = message.reason
        self.query_one("#loading-label", Static).update(Text(f"Cannot open: {message.reason}"))
        self.query_one("#progress").display = False
        self.query_one("#header", Static).update(self._header_text())
        self.notify(message.reason, title="Cannot open the trace", severity="error", markup=False)

    @on(LoadFinished)
    def _finished(self, message: LoadFinished) -> None:
        loaded = message.loaded
        self.trace, self.rows, self.replay = loaded.trace, loaded.rows, loaded.replay
        trace = self.trace
        self._inv_position = {inv.index: i for i, inv in enumerate(trace.invocations)}
        self.query_one("#loading").display = False
        self.query_one("#header", Static).update(self._header_text())
        self.query_one(InvocationList).set_trace(trace)
        self.query_one(Timeline).set_trace(trace, self.rows)
        self.query_one(EventLog).set_trace(trace)
        self._show_details(self.query_one(Timeline).row_at_cursor())
        if trace.error_count:
            lines = "line" if trace.error_count == 1 else "lines"
            self.notify(
                f"{trace.error_count} malformed {lines} skipped — press D for the diagnostics",
                title="Trace has problems",
                severity="warning",
                markup=False,
            )
        if self.start_invocation is not None:
            if self.select_invocation(self.start_invocation):
                self.query_one(InvocationList).move_to(self.start_invocation - 1)
            else:
                self.notify(
                    f"No invocation #{self.start_invocation} in this trace",
                    severity="warning",
                    markup=False,
                )
        self.refresh_bindings()

    # -- selection -------------------------------------------------------------------------------

    def select_invocation(self, index: int, *, zoom: bool = False) -> bool:
        """Show invocation `index` on the timeline (zoomed to it when `zoom`)."""
        t = self.trace
        if t is None:
            return False
        try:
            inv = t.invocation(index)
        except KeyError:
            return False
        timeline = self.query_one(Timeline)
        current = timeline.row_at_cursor()
        if current is None or current.group != index:
            timeline.select_group(index)
        if zoom:
            end = inv.freeze_ns or inv.last_ns or inv.end_ns or t.end_ns
            timeline.fit_range(inv.start_ns, max(end, inv.start_ns + 1))
        else:
            timeline.show_time(inv.start_ns)
        return True

    @on(LineList.Highlighted, "#invocations")
    def _invocation_highlighted(self, message: LineList.Highlighted) -> None:
        if self.trace is not None and message.index < len(self.trace.invocations):
            self.select_invocation(self.trace.invocations[message.index].index)

    @on(LineList.Chosen, "#invocations")
    def _invocation_chosen(self, message: LineList.Chosen) -> None:
        if self.trace is not None and message.index < len(self.trace.invocations):
            self.select_invocation(self.trace.invocations[message.index].index, zoom=True)
            self.query_one(Timeline).focus()

    @on(LineList.Highlighted, "#timeline")
    def _row_highlighted(self, message: LineList.Highlighted) -> None:
        row = self.rows[message.index] if message.index < len(self.rows) else None
        self._show_details(row)
        if row is not None and row.group in self._inv_position:
            self.query_one(InvocationList).move_to(self._inv_position[row.group])

    @on(LineList.Chosen, "#timeline")
    def _row_chosen(self, message: LineList.Chosen) -> None:
        row = self.rows[message.index] if message.index < len(self.rows) else None
        if row is not None and row.kind == "group" and row.group > 0:
            self.select_invocation(row.group, zoom=True)

    def _show_details(self, row: Row | None) -> None:
        t = self.trace
        details = self.query_one("#details", Static)
        if t is None or row is None:
            details.update(Text("Select a row of the timeline."))
            return
        if row.work is not None:
            details.update(work_details(t, t.work(row.work)))
        elif row.group > 0:
            details.update(invocation_details(t, t.invocation(row.group)))
        else:
            title = "INIT" if row.group == 0 else "Work created between environments"
            details.update(Text(f"{title}: the module-level work of environment {row.env}."))
        self.query_one("#details-pane").scroll_home(animate=False)

    def jump_to_finding(self, finding: Finding) -> None:
        """Select the finding's work (or invocation) on the timeline and bring it into view."""
        t = self.trace
        if t is None:
            return
        timeline = self.query_one(Timeline)
        if finding.work is not None and timeline.select_work(finding.work):
            pass
        elif finding.invocation:
            self.select_invocation(finding.invocation)
        when = finding.when()
        if when is not None:
            timeline.show_time(when, margin=timeline.graph_width // 3)
        timeline.focus()

    # -- actions ---------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in REPLAY_ONLY and not self.replaying:
            return False
        if self.trace is None:
            return None if action in {m.action.split("(")[0] for m in MAIN_BINDINGS} else True
        if action == "diagnostics" and not self.trace.diagnostic_count:
            return None
        if action == "diff":
            return True if self._diff_targets() is not None else None
        if action == "invocation" and parameters:
            cursor = self.query_one(InvocationList).cursor
            target = cursor + int(str(parameters[0]))
            return None if not 0 <= target < len(self.trace.invocations) else True
        return True

    def action_zoom(self, factor: float) -> None:
        self.query_one(Timeline).zoom(float(factor))

    def action_fit(self) -> None:
        self.query_one(Timeline).fit()

    def action_pan(self, direction: int) -> None:
        self.query_one(Timeline).action_pan(int(direction))

    def action_compress(self) -> None:
        self.query_one(Timeline).toggle_compress()

    def action_invocation(self, step: int) -> None:
        invocations = self.query_one(InvocationList)
        invocations.move_to(invocations.cursor + int(step))
        self.refresh_bindings()

    def action_leaks(self) -> None:
        from .leaks import LeaksScreen

        if self.trace is None:
            return

        def jump(finding: Finding | None) -> None:
            if finding is not None:
                self.jump_to_finding(finding)

        self.app.push_screen(LeaksScreen(self.trace), jump)

    def _highlighted_invocation(self) -> int | None:
        t = self.trace
        cursor = self.query_one(InvocationList).cursor
        if t is None or not 0 <= cursor < len(t.invocations):
            return None
        return t.invocations[cursor].index

    def _diff_targets(self) -> tuple[int, int] | None:
        """The two marked invocations, or the marked one and the highlighted one."""
        if len(self.marked) == 2:
            return self.marked[0], self.marked[1]
        current = self._highlighted_invocation()
        if len(self.marked) == 1 and current is not None and current != self.marked[0]:
            return self.marked[0], current
        return None

    def action_mark(self) -> None:
        """Mark (or unmark) the highlighted invocation for a diff; the oldest of three goes."""
        index = self._highlighted_invocation()
        if index is None:
            return
        if index in self.marked:
            self.marked.remove(index)
        else:
            self.marked = [*self.marked, index][-2:]
        self.query_one("#header", Static).update(self._header_text())
        self.refresh_bindings()

    def action_diff(self) -> None:
        from ...model.diff import Diff, diff_invocations
        from .diff import DiffScreen

        targets = self._diff_targets()
        if self.trace is None or targets is None:
            return
        t = self.trace
        a, b = t.invocation(targets[0]), t.invocation(targets[1])
        self.app.push_screen(
            DiffScreen(Diff(t, t, DEFAULT_THRESHOLD, [diff_invocations(t, a, t, b)]))
        )

    def action_diagnostics(self) -> None:
        from .diagnostics import DiagnosticsScreen

        if self.trace is not None:
            self.app.push_screen(DiagnosticsScreen(self.trace))

    # -- replay ----------------------------------------------------------------------------------

    def watch_replaying(self, replaying: bool) -> None:
        self.set_class(replaying, "-replay")
        timeline = self.query_one(Timeline)
        if replaying:
            self.move_playhead(max(self.playhead, 0))
        else:
            self.playing = False
            timeline.set_playhead(None, frozenset())
        self.refresh_bindings()

    def watch_playing(self, playing: bool) -> None:
        if self._timer is not None:
            if playing:
                self._carry = 0.0
                self._timer.resume()
            else:
                self._timer.pause()
        self._update_status()

    def action_replay(self) -> None:
        self.replaying = not self.replaying

    def action_close_replay(self) -> None:
        self.replaying = False

    def action_play(self) -> None:
        if not self.replaying:
            self.replaying = True
        self.playing = not self.playing

    def action_step(self, step: int) -> None:
        self.playing = False
        self.move_playhead(self.playhead + int(step))

    def action_speed(self, step: int) -> None:
        self.speed_index = max(0, min(self.speed_index + int(step), len(SPEEDS) - 1))
        self._update_status()

    def action_freeze_jump(self, direction: int) -> None:
        if self.replay is None:
            return
        if int(direction) > 0:
            target = self.replay.next_freeze_or_thaw(self.playhead)
        else:
            target = self.replay.previous_freeze_or_thaw(self.playhead)
        if target is None:
            self.notify("No more freezes that way", timeout=2, markup=False)
        else:
            self.move_playhead(target)

    @property
    def speed(self) -> int:
        return SPEEDS[self.speed_index]

    def move_playhead(self, index: int) -> None:
        """Put the playhead on event `index` (clamped): the event log follows, which moves the rest."""
        if self.trace is None or not len(self.trace.events):
            return
        index = max(0, min(index, len(self.trace.events) - 1))
        log = self.query_one(EventLog)
        if log.cursor == index:
            self._apply_playhead(index)
        else:
            log.move_to(index)

    @on(LineList.Highlighted, "#events")
    def _event_highlighted(self, message: LineList.Highlighted) -> None:
        if self.replaying:
            self._apply_playhead(message.index)

    def _apply_playhead(self, index: int) -> None:
        self.playhead = index
        if self.replay is None:
            return
        moment = self.replay.moment(index)
        self.query_one(Timeline).set_playhead(moment.ts, moment.running)
        self._update_status()

    def _update_status(self) -> None:
        if self.trace is None or self.replay is None or self.playhead < 0:
            return
        moment = self.replay.moment(self.playhead)
        self.query_one("#status", Static).update(
            status_text(self.trace, moment, playing=self.playing, speed=self.speed)
        )

    def _tick(self) -> None:
        if self.trace is None:
            return
        self._carry += self.speed * TICK_S
        steps = int(self._carry)
        if steps:
            self._carry -= steps
            last = len(self.trace.events) - 1
            if self.playhead >= last:
                self.playing = False
                return
            self.move_playhead(min(self.playhead + steps, last))
