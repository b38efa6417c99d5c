"""The diff screen under Pilot: moving between differences, details that follow, marking two
invocations in the viewer, and `lambda-trace diff` opening the screen on a terminal."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable

import pytest
from textual.app import App
from textual.pilot import Pilot

from lambda_trace.cli import main
from lambda_trace.examples.catalog import PACKAGE_ROOT
from lambda_trace.model import load_trace
from lambda_trace.model.diff import Diff, diff_traces
from lambda_trace.tui.app import TraceViewer
from lambda_trace.tui.commands import ViewerCommands
from lambda_trace.tui.diff_app import DiffViewer
from lambda_trace.tui.screens.diff import DiffScreen
from lambda_trace.tui.screens.main import MainScreen
from lambda_trace.tui.widgets.diff_table import DiffTable, Scale, work_cells
from lambda_trace.tui.widgets.invocation_list import InvocationList

TRACES = PACKAGE_ROOT / "traces"
HELD = TRACES / "callback_held.jsonl"
POOL = TRACES / "callback_no_wait_pool.jsonl"
SUCCEED = TRACES / "succeed_pending_write.jsonl"

Scenario = Callable[[App[None], Pilot[None]], Awaitable[None]]


def run_app(app: App[None], scenario: Scenario, size: tuple[int, int] = (140, 40)) -> None:
    async def go() -> None:
        async with app.run_test(size=size) as pilot:
            await app.workers.wait_for_complete()
            await pilot.pause()
            await scenario(app, pilot)

    asyncio.run(go())


def details(screen: DiffScreen) -> str:
    return str(screen.query_one("#diff-details").render())


def table_lines(table: DiffTable) -> list[str]:
    return [table.render_line(y).text for y in range(table.size.height)]


def test_n_and_p_move_between_differences_and_the_details_follow() -> None:
    a, b = load_trace(HELD), load_trace(POOL)
    diff = diff_traces(a, b, 1, 1)

    async def scenario(app: App[None], pilot: Pilot[None]) -> None:
        screen = app.screen
        assert isinstance(screen, DiffScreen)
        table = screen.query_one(DiffTable)
        changed = table.changed_items()
        assert changed[0] == 0 and len(changed) >= 4
        assert table.cursor == 0  # the invocation line differs: it comes first
        assert "held" in details(screen) and "120 ms" in details(screen)
        await pilot.press("n")
        await pilot.pause()
        assert table.cursor == changed[1]
        row = table.row(table.cursor)
        assert row is not None
        assert row.either.name in details(screen)
        await pilot.press("n", "n")
        await pilot.pause()
        assert table.cursor == changed[3]
        await pilot.press("p")
        await pilot.pause()
        assert table.cursor == changed[2]
        await pilot.press("p", "p", "p")  # wraps around to the last difference
        await pilot.pause()
        assert table.cursor == changed[-1]
        only_b = table.row(changed[-1])
        assert only_b is not None and only_b.kind == "added"
        assert "only in B" in details(screen)
        lines = table_lines(table)
        assert lines[0].startswith("  A #1 cold")
        assert any(line.startswith("+ ") and "write_audit" in line for line in lines)
        await pilot.press("j")  # an ordinary cursor move updates the details too
        await pilot.pause()

    run_app(DiffViewer(diff), scenario)


def test_the_cold_and_the_warm_invocation_side_by_side() -> None:
    t = load_trace(SUCCEED)
    diff = diff_traces(t, t, 1, 2)

    async def scenario(app: App[None], pilot: Pilot[None]) -> None:
        screen = app.screen
        assert isinstance(screen, DiffScreen)
        table = screen.query_one(DiffTable)
        await pilot.press("n")
        await pilot.pause()
        row = table.row(table.cursor)
        assert row is not None and row.kind == "added" and row.b is not None
        assert row.b.origin == "earlier"
        text = details(screen)
        assert "created in invocation #1" in text and "crossed_invocation" in text
        line = table_lines(table)[table.cursor + table.header_lines]
        assert line.startswith("+ ") and "↩ task save_order" in line

    run_app(DiffViewer(diff), scenario)


def test_pairs_of_a_whole_trace_diff_and_escape_quits() -> None:
    t = load_trace(SUCCEED)
    diff = diff_traces(t, t)

    async def scenario(app: App[None], pilot: Pilot[None]) -> None:
        screen = app.screen
        assert isinstance(screen, DiffScreen)
        assert screen.check_action("difference", (1,)) is None  # nothing differs: disabled
        assert screen.pair_index == 0
        await pilot.press("right_square_bracket")
        await pilot.pause()
        assert screen.pair_index == 1
        assert "equivalent" in details(screen)
        await pilot.press("left_square_bracket", "left_square_bracket")
        await pilot.pause()
        assert screen.pair_index == 2
        titles = [title for title, _b in ViewerCommands(screen)._commands()]
        assert "diff: next pair" in titles and "diff: next" not in titles
        await pilot.press("escape")
        await pilot.pause()
        assert not app.is_running

    run_app(DiffViewer(diff), scenario)


def test_marking_two_invocations_in_the_viewer_opens_their_diff() -> None:
    async def scenario(app: App[None], pilot: Pilot[None]) -> None:
        assert isinstance(app, TraceViewer)
        main_screen = app.main
        invocations = main_screen.query_one(InvocationList)
        invocations.focus()
        assert main_screen.check_action("diff", ()) is None
        await pilot.press("m")  # #1
        await pilot.pause()
        assert main_screen.marked == [1]
        assert main_screen.check_action("diff", ()) is None  # the cursor is still on #1
        await pilot.press("j", "m")  # #2
        await pilot.pause()
        assert main_screen.marked == [1, 2]
        assert "marked #1, #2" in str(main_screen.query_one("#header").render())
        await pilot.press("d")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, DiffScreen)
        pair = screen.pair
        assert pair is not None and (pair.a.index, pair.b.index) == (1, 2)
        assert [c.field for c in pair.changes][:1] == ["cold"]
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)

    run_app(TraceViewer(str(SUCCEED)), scenario)


def test_marking_one_diffs_it_with_the_highlighted_one() -> None:
    async def scenario(app: App[None], pilot: Pilot[None]) -> None:
        assert isinstance(app, TraceViewer)
        main_screen = app.main
        main_screen.query_one(InvocationList).focus()
        await pilot.press("j", "j", "m", "k", "d")  # mark #3, diff against #2
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, DiffScreen) and screen.pair is not None
        assert (screen.pair.a.index, screen.pair.b.index) == (3, 2)

    run_app(TraceViewer(str(SUCCEED)), scenario)


def test_diff_on_a_terminal_opens_the_screen(monkeypatch: pytest.MonkeyPatch) -> None:
    shown: list[Diff] = []
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    monkeypatch.setattr(DiffViewer, "run", lambda self: shown.append(self.diff))
    assert main(["diff", f"{SUCCEED}@1", f"{SUCCEED}@2"]) == 1
    assert len(shown) == 1 and len(shown[0].pairs) == 1


def test_work_cells_clip_work_that_outlives_the_axis() -> None:
    t = load_trace(SUCCEED)
    diff = diff_traces(t, t, 1, 1)
    (row,) = [r for r in diff.pairs[0].rows if r.either.name == "save_order"]
    assert row.a_work is not None
    cells = work_cells(row.a_work, diff.pairs[0].a, Scale(10_000_000, 20))
    assert cells[-1] == ("▸", "leak")
