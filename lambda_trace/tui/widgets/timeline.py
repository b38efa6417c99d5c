"""The timeline: one line per invocation header or unit of work, time across, a two-line ruler.

Rows and cells come from `tui/layout.py`; this widget keeps the view (zoom, horizontal offset,
freeze compression, playhead) and turns runs into cached strips. Horizontal panning is ours, not
the ScrollView's, because the label column stays put while time moves.
"""

from __future__ import annotations

import math
from collections.abc import Hashable

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.geometry import Region
from textual.strip import Strip

from ...model.trace import Trace
from ...model.units import format_ns
from ..layout import (
    Row,
    Run,
    TimeAxis,
    group_title,
    init_cells,
    invocation_cells,
    invocations_in_view,
    leak_start,
    ruler,
    work_cells,
    work_title,
)
from .line_list import LineList, literal, overlay, text_strip

ROLES = (
    "band", "wait", "leak", "frozen", "run", "inv", "held", "post", "freeze", "start", "error",
    "cancelled", "lost", "blank", "tick", "label",
)  # fmt: skip
LABEL_WIDTH = 30
MIN_NS_PER_COL = 1.0


class Timeline(LineList):
    """Works and invocations against time; the cursor selects a row, the playhead a time."""

    COMPONENT_CLASSES = LineList.COMPONENT_CLASSES | {
        *(f"timeline--{r}" for r in ROLES),
        "timeline--group",
        "timeline--work",
        "timeline--leak-mark",
        "timeline--info-mark",
        "timeline--playhead",
        "timeline--running-mark",
        "timeline--corner",
    }
    DEFAULT_CSS = """
    Timeline > .timeline--band { color: $primary-muted; }
    Timeline > .timeline--wait { color: $text-muted; }
    Timeline > .timeline--leak { color: $warning; }
    Timeline > .timeline--frozen { color: $primary; }
    Timeline > .timeline--run { color: $success; }
    Timeline > .timeline--inv { color: $secondary; }
    Timeline > .timeline--held { color: $warning; }
    Timeline > .timeline--post { color: $accent; text-style: bold; }
    Timeline > .timeline--freeze { color: $primary; text-style: bold; }
    Timeline > .timeline--start { color: $foreground; text-style: bold; }
    Timeline > .timeline--error { color: $error; text-style: bold; }
    Timeline > .timeline--cancelled { color: $warning; text-style: bold; }
    Timeline > .timeline--lost { color: $error; }
    Timeline > .timeline--tick { color: $text-muted; }
    Timeline > .timeline--label { color: $foreground; text-style: bold; }
    Timeline > .timeline--group { color: $foreground; text-style: bold; }
    Timeline > .timeline--work { color: $foreground; }
    Timeline > .timeline--leak-mark { color: $error; text-style: bold; }
    Timeline > .timeline--info-mark { color: $primary; }
    Timeline > .timeline--playhead { background: $accent 70%; }
    Timeline > .timeline--running-mark { color: $success; text-style: bold; }
    Timeline > .timeline--corner { color: $text-muted; }
    """
    BINDINGS = [
        Binding("h,left", "pan(-1)", "Pan left", show=False, id="timeline.pan_left"),
        Binding("l,right", "pan(1)", "Pan right", show=False, id="timeline.pan_right"),
    ]

    header_lines = 2

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.trace: Trace | None = None
        self.rows: list[Row] = []
        self.ns_per_col = 1000.0
        self.x0 = 0
        self.compress = True
        self.playhead_ts: int | None = None
        self.running: frozenset[int] = frozenset()
        self._axis: TimeAxis | None = None
        self._styles: dict[str, Style] = {}
        self._leaky: dict[int, str] = {}
        self._row_of_work: dict[int, int] = {}
        self._segments: dict[int, list[tuple[int, int, str]]] = {}
        self._starts: list[int] = []

    # -- data ------------------------------------------------------------------------------------

    def set_trace(self, trace: Trace, rows: list[Row]) -> None:
        """Show `trace` laid out as `rows`, zoomed to fit."""
        self.trace = trace
        self.rows = rows
        self._row_of_work = {row.work: i for i, row in enumerate(rows) if row.work is not None}
        self._segments = {}
        self._starts = [inv.start_ns for inv in trace.invocations]
        self._leaky = {}
        for f in trace.findings:
            if f.work is not None:
                mark = "leak" if f.is_leak else "info"
                if self._leaky.get(f.work) != "leak":
                    self._leaky[f.work] = mark
        self._axis = None
        self.fit()
        self.set_count(len(rows))

    @property
    def graph_width(self) -> int:
        return max(self.scrollable_content_region.width - LABEL_WIDTH, 10)

    @property
    def axis(self) -> TimeAxis:
        t = self.trace
        if (
            self._axis is None
            or self._axis.ns_per_col != self.ns_per_col
            or self._axis.compress != self.compress
        ):
            if t is None:
                self._axis = TimeAxis(0, 0, [], self.ns_per_col, compress=self.compress)
            else:
                freezes = [(f, th) for f, th, _ in t.freezes]
                self._axis = TimeAxis(
                    t.start_ns, t.end_ns, freezes, self.ns_per_col, compress=self.compress
                )
        return self._axis

    def row_at_cursor(self) -> Row | None:
        return self.rows[self.cursor] if 0 <= self.cursor < len(self.rows) else None

    # -- view ------------------------------------------------------------------------------------

    def _changed(self) -> None:
        self.refresh()

    def window(self) -> tuple[float, float]:
        """Times at the left and right edges of the graph."""
        ax = self.axis
        return ax.t(self.x0), ax.t(self.x0 + self.graph_width)

    def fit(self) -> None:
        """Zoom so the whole trace fits the width."""
        t = self.trace
        if t is None:
            return
        freezes = [(f, th) for f, th, _ in t.freezes]
        self.ns_per_col = TimeAxis.fit_ns_per_col(
            t.start_ns, t.end_ns, freezes, self.graph_width, compress=self.compress
        )
        self.x0 = 0
        self._changed()

    def fit_range(self, start: int, end: int) -> None:
        """Zoom so [start, end] fills the graph, with a little room either side."""
        if self.trace is None:
            return
        gw = self.graph_width
        probe = self.axis
        cols = max(probe.x(end) - probe.x(start), 1e-9)
        # Frozen stretches inside the range do not scale with the zoom when compressed.
        self.ns_per_col = max(self.ns_per_col * cols / max(gw - 4, 1), MIN_NS_PER_COL)
        ax = self.axis
        frozen_cols = ax.x(end) - ax.x(start) - (end - start) / self.ns_per_col
        if frozen_cols > 0 and self.compress:
            active = (end - start) - sum(
                max(0, min(e, end) - max(f, start)) for f, e in zip(ax.starts, ax.ends, strict=True)
            )
            room = max(gw - 4 - frozen_cols, 1)
            self.ns_per_col = max(active / room, MIN_NS_PER_COL)
        self.x0 = math.floor(self.axis.x(start)) - 2
        self._changed()

    def zoom(self, factor: float) -> None:
        """Multiply the time per column by `factor`, keeping the middle (or the playhead) still."""
        ax = self.axis
        gw = self.graph_width
        anchor_col = gw / 2
        if self.playhead_ts is not None:
            col = ax.x(self.playhead_ts) - self.x0
            if 0 <= col < gw:
                anchor_col = col
        anchor = ax.t(self.x0 + anchor_col)
        self.ns_per_col = max(self.ns_per_col * factor, MIN_NS_PER_COL)
        self.x0 = math.floor(self.axis.x(anchor) - anchor_col)
        self._clamp()
        self._changed()

    def pan(self, cols: int) -> None:
        """Move the window by `cols` columns (negative: back in time)."""
        self.x0 += cols
        self._clamp()
        self._changed()

    def show_time(self, ts: float, *, margin: int = 2) -> None:
        """Pan so `ts` is in view (at `margin` columns from the left if it was not)."""
        col = self.axis.x(ts) - self.x0
        if not (margin <= col < self.graph_width - margin):
            self.x0 = math.floor(self.axis.x(ts)) - margin
            self._clamp()
            self._changed()

    def _clamp(self) -> None:
        gw = self.graph_width
        last = math.ceil(self.axis.total_cols) - gw // 2
        self.x0 = max(-gw // 2, min(self.x0, max(last, 0)))

    def toggle_compress(self) -> None:
        """Draw freezes squeezed to a few columns, or at their true length."""
        left = self.axis.t(self.x0)
        self.compress = not self.compress
        self.fit()
        self.show_time(left)

    def action_pan(self, direction: int) -> None:
        self.pan(direction * max(self.graph_width // 8, 1))

    def select_work(self, work_id: int) -> bool:
        """Put the cursor on the row of this work."""
        index = self._row_of_work.get(work_id)
        if index is None:
            return False
        self.move_to(index)
        return True

    def select_group(self, group: int) -> bool:
        """Put the cursor on the header row of this invocation (0: the first INIT)."""
        for i, row in enumerate(self.rows):
            if row.kind == "group" and row.group == group:
                self.move_to(i)
                self.scroll_to(y=i, animate=False, force=True)
                return True
        return False

    def set_playhead(self, ts: int | None, running: frozenset[int]) -> None:
        """Move the playhead; repaint only the columns and labels it touches."""
        old_col = self._playhead_col()
        changed_rows = self.running ^ running
        self.playhead_ts = ts
        self.running = running
        if ts is not None:
            before = self.x0
            self.show_time(ts, margin=4)
            if self.x0 != before:
                return
        new_col = self._playhead_col()
        h = self.size.height
        for col in (old_col, new_col):
            if col is not None:
                self.refresh(Region(LABEL_WIDTH + col, 0, 1, h))
        for work_id in changed_rows:
            index = self._row_of_work.get(work_id)
            if index is not None:
                self.refresh_item(index)

    def _playhead_col(self) -> int | None:
        if self.playhead_ts is None:
            return None
        col = math.floor(self.axis.x(self.playhead_ts)) - self.x0
        return col if 0 <= col < self.graph_width else None

    # -- rendering -------------------------------------------------------------------------------

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles = {}

    def style(self, name: str) -> Style:
        style = self._styles.get(name)
        if style is None:
            style = self.get_component_rich_style(f"timeline--{name}")
            self._styles[name] = style
        return style

    def _runs_strip(self, runs: list[Run]) -> list[Segment]:
        return [Segment(text, self.style(role)) for text, role in runs]

    def item_key(self) -> Hashable:
        return (self.ns_per_col, self.x0, self.compress)

    def render_header(self, y: int, width: int) -> Strip:
        t = self.trace
        base = self.rich_style
        gw = width - LABEL_WIDTH
        if t is None or gw <= 0:
            return Strip.blank(width, base)
        key = ("ruler", y, width, self.item_key())
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        visible = invocations_in_view(t, self._starts, self.axis, self.x0, gw)
        labels, marks = ruler(t, self.axis, self.x0, gw, visible)
        if y == 0:
            corner = Text(f" {format_ns(self.ns_per_col)}/col", style=self.style("corner"))
            runs = labels
        else:
            left, right = self.window()
            corner = Text(
                f" {format_ns(max(left - t.start_ns, 0))} → {format_ns(right - t.start_ns)}",
                style=self.style("corner"),
            )
            runs = marks
        head = text_strip(corner, LABEL_WIDTH, base, self.app.console)
        strip = Strip.join([head, Strip(self._runs_strip(runs))])
        self._cache[key] = strip
        return strip

    def render_item(self, index: int, width: int) -> Strip:
        t = self.trace
        base = self.rich_style
        if t is None:
            return Strip.blank(width, base)
        row = self.rows[index]
        gw = max(width - LABEL_WIDTH, 0)
        label = Text(no_wrap=True)
        if row.kind == "group":
            label.append("▾ ", self.style("tick"))
            label.append(group_title(t, row), self.style("group"))
            if row.group > 0:
                runs = invocation_cells(t, t.invocation(row.group), self.axis, self.x0, gw)
            else:
                runs = init_cells(t, row.env, self.axis, self.x0, gw)
        else:
            assert row.work is not None
            w = t.work(row.work)
            mark = self._leaky.get(w.id)
            if mark == "leak":
                label.append("● ", self.style("leak-mark"))
            elif mark == "info":
                label.append("○ ", self.style("info-mark"))
            else:
                label.append("  ")
            label.append("  " * min(row.depth + 1, 4))
            label.append(literal(work_title(w)), self.style("work"))
            segments = self._segments.get(w.id)
            if segments is None:
                segments = self._segments[w.id] = list(w.segments(t.freezes, t.end_ns))
            runs = work_cells(
                t, w, self.axis, self.x0, gw, leak_from=leak_start(t, w), segments=segments
            )
        label.truncate(LABEL_WIDTH - 1, overflow="ellipsis", pad=True)
        label.append(" ")
        head = text_strip(label, LABEL_WIDTH, base, self.app.console)
        return Strip.join([head, Strip(self._runs_strip(runs))])

    def decorate(self, index: int, y: int, strip: Strip) -> Strip:
        row = self.rows[index] if index < len(self.rows) else None
        if row is not None and row.work is not None and row.work in self.running:
            rest = strip.divide([1, strip.cell_length])[1]
            strip = Strip.join([Strip([Segment("▶", self.style("running-mark"))]), rest])
        return self._playhead(strip)

    def render_line(self, y: int) -> Strip:
        strip = super().render_line(y)
        if y < self.header_lines:
            return self._playhead(strip)
        return strip

    def _playhead(self, strip: Strip) -> Strip:
        col = self._playhead_col()
        if col is None:
            return strip
        x = LABEL_WIDTH + col
        if x >= strip.cell_length:
            return strip
        parts = strip.divide([x, x + 1, strip.cell_length])
        if len(parts) < 3:
            return strip
        return Strip.join([parts[0], overlay(parts[1], self.style("playhead")), parts[2]])
