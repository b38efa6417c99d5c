"""The viewer under Pilot: keys and clicks in, widget state and rendered lines out."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from textual.pilot import Pilot

from lambda_trace.cli import main
from lambda_trace.tui.app import TraceViewer
from lambda_trace.tui.commands import ViewerCommands
from lambda_trace.tui.screens.diagnostics import DiagnosticsScreen
from lambda_trace.tui.screens.help import HelpScreen
from lambda_trace.tui.screens.leaks import LeaksScreen
from lambda_trace.tui.screens.main import MainScreen
from lambda_trace.tui.widgets.event_log import EventLog
from lambda_trace.tui.widgets.findings_list import FindingsList
from lambda_trace.tui.widgets.invocation_list import InvocationList
from lambda_trace.tui.widgets.timeline import Timeline

from .conftest import BAD, LEAKY, NOT_A_TRACE

Scenario = Callable[[TraceViewer, Pilot[None]], Awaitable[None]]


def run(path: Path, scenario: Scenario, *, size: tuple[int, int] = (120, 40), **kw: object) -> None:
    async def go() -> None:
        app = TraceViewer(str(path), **kw)  # type: ignore[arg-type]
        async with app.run_test(size=size) as pilot:
            await app.workers.wait_for_complete()
            await pilot.pause()
            await scenario(app, pilot)

    asyncio.run(go())


def lines(widget: Timeline | EventLog | FindingsList | InvocationList) -> list[str]:
    return [widget.render_line(y).text for y in range(widget.size.height)]


def details(app: TraceViewer) -> str:
    return str(app.main.query_one("#details").render())


def test_choosing_an_invocation_moves_the_timeline() -> None:
    async def scenario(app: TraceViewer, pilot: Pilot[None]) -> None:
        main = app.main
        timeline = main.query_one(Timeline)
        main.query_one(InvocationList).focus()
        await pilot.press("j", "j")  # invocation #3
        await pilot.pause()
        row = timeline.row_at_cursor()
        assert row is not None and row.kind == "group" and row.group == 3
        inv3 = main.trace.invocation(3)  # type: ignore[union-attr]
        left, right = timeline.window()
        assert left <= inv3.start_ns <= right
        assert "Invocation #3" in details(app)
        fitted = timeline.ns_per_col
        await pilot.press("enter")  # zoom to it
        await pilot.pause()
        left, right = timeline.window()
        assert left <= inv3.start_ns and (inv3.freeze_ns or 0) <= right
        assert timeline.ns_per_col < fitted / 2
        await pilot.press("left_square_bracket")
        await pilot.pause()
        assert main.query_one(InvocationList).cursor == 1
        assert timeline.row_at_cursor().group == 2  # type: ignore[union-attr]

    run(LEAKY, scenario)


def test_selecting_a_row_shows_where_the_work_was_created_and_its_findings() -> None:
    async def scenario(app: TraceViewer, pilot: Pilot[None]) -> None:
        timeline = app.main.query_one(Timeline)
        timeline.focus()
        await pilot.press("j", "j")  # #1, handler, then task write #2
        await pilot.pause()
        assert timeline.row_at_cursor().work == 2  # type: ignore[union-attr]
        text = details(app)
        assert "task write #2" in text
        assert "leaky.py:7" not in text and "leaky.py:" in text  # the creation site
        assert "leaky.py:27 in handler" in text  # its stack
        assert "parent" in text and "handler #1" in text
        assert "crossed_invocation" in text and "pending_at_freeze" in text
        assert "running" in text and "frozen" in text  # state changes

    run(LEAKY, scenario)


def test_mouse_click_selects_a_row() -> None:
    async def scenario(app: TraceViewer, pilot: Pilot[None]) -> None:
        timeline = app.main.query_one(Timeline)
        # Row 3 of the timeline: two ruler lines and the border above it.
        await pilot.click(Timeline, offset=(5, 1 + 2 + 3))
        await pilot.pause()
        assert timeline.cursor == 3
        assert timeline.row_at_cursor().work == 3  # type: ignore[union-attr]

    run(LEAKY, scenario)


def test_leaks_screen_jumps_to_the_finding() -> None:
    async def scenario(app: TraceViewer, pilot: Pilot[None]) -> None:
        await pilot.press("L")
        await pilot.pause()
        assert isinstance(app.screen, LeaksScreen)
        findings = app.screen.query_one(FindingsList)
        text = "\n".join(lines(findings))
        assert "crossed_invocation (6)" in text and "pending_at_freeze (9)" in text
        await pilot.press("j", "j")  # the third crossed_invocation finding
        finding = findings.item(findings.cursor)
        assert finding is not None and not isinstance(finding, str)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        timeline = app.main.query_one(Timeline)
        assert timeline.row_at_cursor().work == finding.work  # type: ignore[union-attr]
        left, right = timeline.window()
        assert left <= finding.timings["ran_ns"] <= right
        assert timeline.has_focus

    run(LEAKY, scenario)


def test_replay_steps_and_everything_agrees() -> None:
    async def scenario(app: TraceViewer, pilot: Pilot[None]) -> None:
        main = app.main
        trace = main.trace
        assert trace is not None
        await pilot.press("r")
        await pilot.pause()
        log = main.query_one(EventLog)
        assert main.replaying and main.playhead == 0
        for _ in range(6):
            await pilot.press("full_stop")
        await pilot.pause()
        assert main.playhead == 6 and log.cursor == 6
        status = str(main.query_one("#status").render())
        assert "event 7/" in status and "invocation #1" in status and "live" in status
        assert trace.events.kind_name(6) in status
        timeline = main.query_one(Timeline)
        assert timeline.playhead_ts == trace.events.ts[6]
        await pilot.press("comma", "comma")
        await pilot.pause()
        assert main.playhead == 4 and log.cursor == 4
        await pilot.press("n")  # the first freeze
        await pilot.pause()
        assert trace.events.kind_name(main.playhead) == "env.freeze"
        status = str(main.query_one("#status").render())
        assert "FROZEN" in status and "3 frozen" in status
        await pilot.press("n")  # then the thaw, in invocation 2
        await pilot.pause()
        assert trace.events.kind_name(main.playhead) == "env.thaw"
        assert "invocation #2" in str(main.query_one("#status").render())
        await pilot.press("full_stop")  # the leaked timer starts running in invocation 2
        await pilot.pause()
        running = timeline.running
        assert running and all(trace.work(w).created_in == 1 for w in running)
        assert main.query_one(EventLog).render_line(0).text  # the log draws
        await pilot.press("greater_than_sign")
        assert main.speed == 20
        # No pause between the presses: playing on, the replay would reach the end of this small
        # trace and stop by itself on a slow machine.
        await pilot.press("space")
        assert main.playing
        await pilot.press("space")
        assert not main.playing

    run(LEAKY, scenario)


def test_zoom_and_pan_change_the_window() -> None:
    async def scenario(app: TraceViewer, pilot: Pilot[None]) -> None:
        timeline = app.main.query_one(Timeline)
        full = timeline.window()
        await pilot.press("plus")
        zoomed = timeline.window()
        assert zoomed[1] - zoomed[0] < full[1] - full[0]
        await pilot.press("l")
        panned = timeline.window()
        assert panned[0] > zoomed[0]
        await pilot.press("h", "h")
        assert timeline.window()[0] < panned[0]
        await pilot.press("minus", "minus")
        await pilot.press("f")
        assert timeline.window() == full
        before = lines(timeline)
        await pilot.press("z")  # freezes to scale: a very different picture
        await pilot.pause()
        assert lines(timeline) != before

    run(LEAKY, scenario)


def test_text_from_the_trace_is_shown_literally() -> None:
    async def scenario(app: TraceViewer, pilot: Pilot[None]) -> None:
        main = app.main
        timeline = main.query_one(Timeline)
        assert any("timer [bold red]x[/] #4" in line for line in lines(timeline))
        timeline.select_work(4)
        await pilot.pause()
        assert "timer [bold red]x[/] #4" in details(app)
        await pilot.press("r")
        log = main.query_one(EventLog)
        index = next(
            i
            for i in range(len(main.trace.events))
            if main.trace.events.kind_name(i) == "log"  # type: ignore[union-attr]
        )
        log.move_to(index)
        await pilot.pause()
        assert "[link=https://evil.example]click[/link] timer fired" in "\n".join(lines(log))

    run(LEAKY, scenario, size=(200, 40))


def test_bad_lines_are_counted_and_listed() -> None:
    async def scenario(app: TraceViewer, pilot: Pilot[None]) -> None:
        messages = [n.message for n in app._notifications]
        assert any("3 malformed lines skipped" in m for m in messages)
        await pilot.press("D")
        await pilot.pause()
        assert isinstance(app.screen, DiagnosticsScreen)
        text = "\n".join(lines(app.screen.query_one("#diagnostics")))  # type: ignore[arg-type]
        assert "line       6  error   invalid JSON" in text
        assert "line      10  error   missing field 'seq'" in text
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)

    run(BAD, scenario)


def test_not_a_trace_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["view", str(NOT_A_TRACE)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a lambda-trace trace" in err
    assert main(["view", "/no/such/trace.jsonl"]) == 2


def test_help_and_palette_list_every_key() -> None:
    async def scenario(app: TraceViewer, pilot: Pilot[None]) -> None:
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = str(app.screen.query_one("#help-text").render())
        for words in ("Half the time per column", "One event forward", "Next freeze or thaw"):
            assert words in text
        await pilot.press("escape")
        provider = ViewerCommands(app.screen)
        titles = [title for title, _ in provider._commands()]
        assert {"timeline: zoom in", "leaks: open", "replay: toggle", "app: help"} <= set(titles)
        assert "replay: step forward" not in titles  # only while replaying
        assert "diagnostics: open" not in titles  # nothing was skipped
        await pilot.press("r")
        titles = [title for title, _ in ViewerCommands(app.screen)._commands()]
        assert "replay: step forward" in titles

    run(LEAKY, scenario)


def test_start_at_an_invocation() -> None:
    async def scenario(app: TraceViewer, pilot: Pilot[None]) -> None:
        assert app.main.query_one(InvocationList).cursor == 1
        assert app.main.query_one(Timeline).row_at_cursor().group == 2  # type: ignore[union-attr]

    run(LEAKY, scenario, invocation=2)
