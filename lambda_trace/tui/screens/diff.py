"""The diff screen: two invocations side by side, aligned rows marked by kind of change.

`n`/`p` move between differences, `[`/`]` between pairs of invocations (a diff of whole traces),
the details follow the cursor. Opened by `lambda-trace diff` on a terminal, or from the main
screen after marking two invocations.
"""

from __future__ import annotations

import os
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from ...model.diff import Diff, PairDiff
from ..describe import literal
from ..diff_describe import pair_details, row_details
from ..keys import DIFF_BINDINGS
from ..widgets.diff_table import DiffTable
from ..widgets.line_list import LineList


class DiffScreen(Screen[None]):
    """One pair of invocations at a time; `escape` goes back (or quits when it is the app)."""

    BINDINGS: ClassVar[list[BindingType]] = list(DIFF_BINDINGS)

    def __init__(self, diff: Diff, *, pair: int = 0) -> None:
        super().__init__()
        self.diff = diff
        self.pair_index = pair

    @property
    def pair(self) -> PairDiff | None:
        pairs = self.diff.pairs
        return pairs[self.pair_index] if 0 <= self.pair_index < len(pairs) else None

    def compose(self) -> ComposeResult:
        yield Static(id="diff-header")
        table = DiffTable(id="diff-table")
        table.border_title = "Aligned work"
        yield table
        with VerticalScroll(id="diff-details-pane") as pane:
            pane.border_title = "Details"
            yield Static(id="diff-details")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DiffTable)
        table.focus()
        self.show_pair(self.pair_index)

    def show_pair(self, index: int) -> None:
        """Show pair `index`, the cursor on its first difference (or the invocation line)."""
        self.pair_index = index
        self.query_one("#diff-header", Static).update(self._header_text())
        pair = self.pair
        table = self.query_one(DiffTable)
        if pair is None:
            self.query_one("#diff-details", Static).update(
                Text("No invocations to compare: " + self._unpaired_text())
            )
            return
        table.set_pair(pair)
        changed = table.changed_items()
        target = changed[0] if changed else 0
        if table.cursor == target:
            self._show_details(target)
        table.move_to(target)
        self.refresh_bindings()

    def _unpaired_text(self) -> str:
        parts = []
        if self.diff.unpaired_a:
            parts.append("only in A: " + ", ".join(f"#{i}" for i in self.diff.unpaired_a))
        if self.diff.unpaired_b:
            parts.append("only in B: " + ", ".join(f"#{i}" for i in self.diff.unpaired_b))
        return "; ".join(parts) or "both traces are empty"

    def _header_text(self) -> Text:
        d = self.diff
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(" Diff ", "bold reverse")
        pair = self.pair
        a_at = f" #{pair.a.index}" if pair else ""
        b_at = f" #{pair.b.index}" if pair else ""
        text.append("  A ", "dim")
        text.append(literal(os.path.basename(d.a.path)) + a_at, "bold red")
        text.append("  B ", "dim")
        text.append(literal(os.path.basename(d.b.path)) + b_at, "bold green")
        if len(d.pairs) > 1:
            text.append(f"  pair {self.pair_index + 1}/{len(d.pairs)}", "dim")
        if pair is not None:
            n = pair.differences
            text.append(
                "  equivalent" if n == 0 else f"  {n} difference(s)",
                "green" if n == 0 else "bold yellow",
            )
        if d.unpaired_a or d.unpaired_b:
            text.append("  " + self._unpaired_text(), "yellow")
        return text

    @on(LineList.Highlighted, "#diff-table")
    def _highlighted(self, message: LineList.Highlighted) -> None:
        self._show_details(message.index)

    def _show_details(self, index: int) -> None:
        pair = self.pair
        details = self.query_one("#diff-details", Static)
        if pair is None:
            return
        row = self.query_one(DiffTable).row(index)
        details.update(pair_details(pair) if row is None else row_details(row))
        self.query_one("#diff-details-pane").scroll_home(animate=False)

    # -- actions ---------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "pair":
            return True if len(self.diff.pairs) > 1 else None
        if action == "difference":
            return True if self.query_one(DiffTable).changed_items() else None
        return True

    def action_difference(self, step: int) -> None:
        """Move the cursor to the next (1) or previous (-1) row that differs, wrapping around."""
        table = self.query_one(DiffTable)
        changed = table.changed_items()
        if not changed:
            self.notify("No differences", timeout=2, markup=False)
            return
        cursor = table.cursor
        if int(step) > 0:
            after = [i for i in changed if i > cursor]
            target = after[0] if after else changed[0]
        else:
            before = [i for i in changed if i < cursor]
            target = before[-1] if before else changed[-1]
        table.move_to(target)

    def action_pair(self, step: int) -> None:
        count = len(self.diff.pairs)
        if count > 1:
            self.show_pair((self.pair_index + int(step)) % count)

    def action_close(self) -> None:
        if len(self.app.screen_stack) > 2:
            self.dismiss(None)
        else:
            self.app.exit()
