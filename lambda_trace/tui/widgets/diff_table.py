"""The diff table: two invocations side by side on a shared time axis, one aligned row per line.

Item 0 is the invocation itself (answer, held response, freeze); items 1.. are `PairDiff.rows`.
Each half draws time relative to its invocation's start, on the same scale, so the same work
lines up even when the invocations ran at different times.
"""

from __future__ import annotations

from collections.abc import Hashable

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.strip import Strip

from ...model.diff import InvocationFacts, PairDiff, Row
from ...model.units import format_ns
from ...model.works import Work
from ..describe import literal
from .line_list import LineList, text_strip

MARKS = {
    "same": " ",
    "removed": "-",
    "added": "+",
    "findings": "!",
    "fate": "»",
    "pending": "*",
    "error": "x",
    "timing": "~",
    "renamed": "≈",
    "moved": "↕",
}
"""The marker column: one character per kind of change (a row's most important one)."""
MARK_STYLE = {"removed": "removed", "added": "added", "same": "muted"}
MARK_W = 2
SEP = " │ "
LABEL_MAX = 26

Cell = tuple[str, str]
"""(character, role)."""


def half_widths(width: int) -> tuple[int, int, int]:
    """(half, label, graph) widths for a table `width` cells wide."""
    half = max((width - MARK_W - len(SEP)) // 2, 0)
    label = min(LABEL_MAX, half // 2)
    return half, label, max(half - label - 1, 0)


class Scale:
    """Relative time (ns since an invocation's start) to columns of one half's graph."""

    def __init__(self, span_ns: int, cols: int) -> None:
        self.cols = cols
        self.ns_per_col = max(span_ns, 1) / max(cols - 1, 1)

    def col(self, rel_ns: float) -> int:
        return int(rel_ns / self.ns_per_col)

    def cells(self) -> list[Cell]:
        return [(" ", "muted")] * self.cols

    def fill(self, cells: list[Cell], begin: float, end: float, ch: str, role: str) -> None:
        if self.cols == 0:
            return
        first, last = self.col(begin), self.col(end)
        if last < 0 or first >= self.cols:
            return
        for x in range(max(first, 0), min(last, self.cols - 1) + 1):
            cells[x] = (ch, role)

    def mark(self, cells: list[Cell], at: float, ch: str, role: str) -> None:
        x = self.col(at)
        if 0 <= x < self.cols:
            cells[x] = (ch, role)


def work_cells(w: Work, inv: InvocationFacts, scale: Scale) -> list[Cell]:
    """One side's work: waiting `─` from creation to its end, running `█`, clipped with ◂ ▸."""
    cells = scale.cells()
    if not scale.cols:
        return cells
    start = w.created_ns - inv.start_ns
    done = w.done_ns
    end = (done - inv.start_ns) if done is not None else float(scale.ns_per_col * scale.cols * 2)
    scale.fill(cells, start, end, "─", "wait")
    for b, e, _inv in w.spans:
        scale.fill(cells, b - inv.start_ns, e - inv.start_ns, "█", "run")
    if done is not None and w.status == "error":
        scale.mark(cells, end, "✖", "bad")
    if start < 0 and cells[0][1] != "run":
        cells[0] = ("◂", "wait")
    if scale.col(end) >= scale.cols:
        cells[-1] = ("▸", "leak")
    return cells


def invocation_cells(inv: InvocationFacts, scale: Scale) -> list[Cell]:
    """The invocation: running `━` until the answer, held `═` until the post, `❄` at the freeze."""
    cells = scale.cells()
    answered = inv.answered_ns if inv.answered_ns is not None else inv.span_ns
    scale.fill(cells, 0, answered, "━", "inv")
    if inv.held_ns:
        scale.fill(cells, answered, answered + inv.held_ns, "═", "held")
    scale.mark(cells, answered + inv.held_ns, "▲", "post")
    scale.mark(cells, inv.span_ns, "❄", "freeze")
    return cells


def row_label(row: Row, side: str) -> str:
    facts = row.a if side == "a" else row.b
    if facts is None:
        return ""
    kind = "handler" if facts.role == "handler" else facts.type
    prefix = "↩ " if facts.origin != "here" else ""
    return f"{prefix}{kind} {literal(facts.name)}"


class DiffTable(LineList):
    """The aligned rows of one pair of invocations; the cursor picks the pair shown in details."""

    COMPONENT_CLASSES = LineList.COMPONENT_CLASSES | {
        f"diff-table--{r}"
        for r in (
            "removed",
            "added",
            "changed",
            "muted",
            "wait",
            "run",
            "leak",
            "bad",
            "inv",
            "held",
            "post",
            "freeze",
            "label",
        )
    }
    DEFAULT_CSS = """
    DiffTable > .diff-table--removed { color: $error; text-style: bold; }
    DiffTable > .diff-table--added { color: $success; text-style: bold; }
    DiffTable > .diff-table--changed { color: $warning; text-style: bold; }
    DiffTable > .diff-table--muted { color: $text-muted; }
    DiffTable > .diff-table--wait { color: $text-muted; }
    DiffTable > .diff-table--run { color: $success; }
    DiffTable > .diff-table--leak { color: $warning; text-style: bold; }
    DiffTable > .diff-table--bad { color: $error; text-style: bold; }
    DiffTable > .diff-table--inv { color: $secondary; }
    DiffTable > .diff-table--held { color: $warning; }
    DiffTable > .diff-table--post { color: $accent; text-style: bold; }
    DiffTable > .diff-table--freeze { color: $primary; text-style: bold; }
    DiffTable > .diff-table--label { color: $foreground; }
    """
    header_lines = 2

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.pair: PairDiff | None = None
        self._styles: dict[str, Style] = {}

    def set_pair(self, pair: PairDiff) -> None:
        """Show `pair`: the invocation line, then every aligned row."""
        self.pair = pair
        self.set_count(len(pair.rows) + 1)

    def row(self, index: int) -> Row | None:
        """The aligned row of item `index` (None for item 0, the invocation)."""
        if self.pair is None or index < 1 or index > len(self.pair.rows):
            return None
        return self.pair.rows[index - 1]

    def kind(self, index: int) -> str:
        """Kind of change of item `index` (`same` when unchanged)."""
        if index == 0:
            return "findings" if self.pair is not None and self.pair.changes else "same"
        row = self.row(index)
        return row.kind if row is not None else "same"

    def changed_items(self) -> list[int]:
        """Items that differ, in order."""
        if self.pair is None:
            return []
        out = [0] if self.pair.changes else []
        out.extend(i + 1 for i, r in enumerate(self.pair.rows) if r.changed)
        return out

    def span_ns(self) -> int:
        """The shared axis: the longer of the two invocations (start to freeze)."""
        if self.pair is None:
            return 1
        return max(self.pair.a.span_ns, self.pair.b.span_ns, 1)

    # -- drawing ---------------------------------------------------------------------------------

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles = {}

    def style(self, role: str) -> Style:
        style = self._styles.get(role)
        if style is None:
            style = self.get_component_rich_style(f"diff-table--{role}")
            self._styles[role] = style
        return style

    def item_key(self) -> Hashable:
        return id(self.pair)

    def _cells(self, cells: list[Cell]) -> Strip:
        segments: list[Segment] = []
        run, role = "", ""
        for ch, r in cells:
            if r != role and run:
                segments.append(Segment(run, self.style(role)))
                run = ""
            run += ch
            role = r
        if run:
            segments.append(Segment(run, self.style(role)))
        return Strip(segments)

    def _text(self, text: Text, width: int) -> Strip:
        return text_strip(text, width, self.rich_style, self.app.console)

    def _join(self, mark: Strip, left: Strip, right: Strip) -> Strip:
        sep = Strip([Segment(SEP, self.style("muted"))])
        return Strip.join([mark, left, sep, right])

    def render_header(self, y: int, width: int) -> Strip:
        pair = self.pair
        half, label, graph = half_widths(width)
        head = self.get_component_rich_style("line-list--header")
        if pair is None or half <= 0:
            return Strip.blank(width, self.rich_style)
        mark = self._text(Text(""), MARK_W)
        if y == 0:
            sides = []
            for name, inv in (("A", pair.a), ("B", pair.b)):
                title = f"{name} #{inv.index} {'cold' if inv.cold else 'warm'}"
                sides.append(self._text(Text(title, style=head), half))
            return self._join(mark, sides[0], sides[1])
        span = self.span_ns()
        ruler = Text(f"{'':<{label}} 0", style=head)
        end = format_ns(span)
        pad = max(graph - 1 - len(end), 1)
        ruler.append(" " * pad + end, head)
        side = self._text(ruler, half)
        return self._join(mark, side, side)

    def render_item(self, index: int, width: int) -> Strip:
        pair = self.pair
        half, label, graph = half_widths(width)
        if pair is None or half <= 0:
            return Strip.blank(width, self.rich_style)
        scale = Scale(self.span_ns(), graph)
        kind = self.kind(index)
        mark_role = MARK_STYLE.get(kind, "changed")
        mark = self._text(Text(MARKS[kind], style=self.style(mark_role)), MARK_W)
        if index == 0:
            sides = [
                self._side("response", invocation_cells(inv, scale), label, half)
                for inv in (pair.a, pair.b)
            ]
            return self._join(mark, sides[0], sides[1])
        row = self.row(index)
        assert row is not None
        sides = []
        for name, w, inv in (("a", row.a_work, pair.a), ("b", row.b_work, pair.b)):
            if w is None:
                sides.append(self._text(Text(""), half))
            else:
                sides.append(
                    self._side(row_label(row, name), work_cells(w, inv, scale), label, half)
                )
        return self._join(mark, sides[0], sides[1])

    def _side(self, name: str, cells: list[Cell], label: int, half: int) -> Strip:
        text = Text(name[:label].ljust(label) + " ", style=self.style("label"))
        left = self._text(text, label + 1)
        return Strip.join([left, self._cells(cells)]).crop_extend(0, half, self.rich_style)
