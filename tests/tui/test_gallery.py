"""`lambda-trace demo`: the gallery under Pilot, and the command that records and opens it."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from textual.pilot import Pilot

from lambda_trace.commands import demo
from lambda_trace.examples.catalog import BY_ID, SCENARIOS
from lambda_trace.tui.app import TraceViewer
from lambda_trace.tui.commands import ViewerCommands
from lambda_trace.tui.screens.gallery import (
    GalleryEntry,
    GalleryScreen,
    ScenarioList,
    ScenarioScreen,
)
from lambda_trace.tui.widgets.timeline import Timeline

Scenario = Callable[[TraceViewer, Pilot[None]], Awaitable[None]]


def run(entries: list[GalleryEntry], scenario: Scenario) -> None:
    async def go() -> None:
        app = TraceViewer(gallery=entries, gallery_source="traces")
        async with app.run_test(size=(120, 36)) as pilot:
            await app.workers.wait_for_complete()
            await pilot.pause()
            await scenario(app, pilot)

    asyncio.run(go())


async def settle(app: TraceViewer, pilot: Pilot[None]) -> None:
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()


def test_gallery_lists_every_scenario_with_what_its_trace_found() -> None:
    entries = demo.committed_entries()
    assert [e.id for e in entries] == [s.id for s in SCENARIOS]

    async def scenario(app: TraceViewer, pilot: Pilot[None]) -> None:
        assert isinstance(app.screen, GalleryScreen)
        scenarios = app.screen.query_one(ScenarioList)
        assert scenarios.count == len(SCENARIOS)
        lines = [scenarios.render_line(y).text for y in range(len(SCENARIOS) + 1)]
        assert "meant to show" in lines[0]
        assert "context.succeed() with a DB write pending" in lines[1]
        assert "held" in lines[2] and "leak" in lines[2]
        node24 = [s.id for s in SCENARIOS].index("node24_migration") + 1
        assert "node24" in lines[node24] and lines[node24].rstrip().endswith("clean")
        # Every trace holds at least the findings its scenario is meant to show.
        for i, entry in enumerate(entries):
            found = scenarios.found[i]
            assert found.error is None
            assert set(entry.expected) <= {c for c, _ in found.categories}, entry.id
        details = str(app.screen.query_one("#scenario").render())
        assert "The article's handler fires a DB write" in details
        assert "crossed_invocation (" in details

    run(entries, scenario)


def test_enter_opens_the_trace_and_escape_or_q_come_back() -> None:
    entries = demo.committed_entries()

    async def scenario(app: TraceViewer, pilot: Pilot[None]) -> None:
        await pilot.press("j", "j", "enter")  # callbackWaitsForEmptyEventLoop = False
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, ScenarioScreen)
        assert screen.path.endswith("callback_no_wait_pool.jsonl")
        assert screen.trace is not None and screen.trace.leaks
        assert screen.query_one(Timeline).has_focus
        titles = [title for title, _ in ViewerCommands(screen)._commands()]
        assert "gallery: back" in titles and "timeline: zoom in" in titles

        await pilot.press("r")
        await pilot.pause()
        assert screen.replaying
        await pilot.press("escape")  # closes replay first
        await pilot.pause()
        assert app.screen is screen and not screen.replaying
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, GalleryScreen)
        assert app.screen.query_one(ScenarioList).cursor == 2

        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, ScenarioScreen)
        await pilot.press("q")
        await pilot.pause()
        assert isinstance(app.screen, GalleryScreen) and app.is_running
        await pilot.press("q")
        await pilot.pause()
        assert not app.is_running

    run(entries, scenario)


def test_an_unreadable_trace_is_marked_not_fatal(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not a trace\n")
    entries = [demo.entry(BY_ID["callback_held"], tmp_path)]
    entries.append(GalleryEntry("bad", "A broken file", "", "node", (), str(bad)))

    async def scenario(app: TraceViewer, pilot: Pilot[None]) -> None:
        scenarios = app.screen.query_one(ScenarioList)
        assert "unreadable" in scenarios.render_line(2).text
        await pilot.press("j")
        await pilot.pause()
        assert "bad.jsonl" in str(app.screen.query_one("#scenario").render())

    (tmp_path / "callback_held.jsonl").write_bytes(
        Path(demo.COMMITTED / "callback_held.jsonl").read_bytes()
    )
    run(entries, scenario)


def _args(**kw: object) -> argparse.Namespace:
    return argparse.Namespace(**{"no_record": False, "output": None, **kw})


def test_demo_records_every_scenario_then_opens_the_gallery(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """In-process recording (same bytes as the child-process one, faster); the app is not run."""
    opened: list[TraceViewer] = []
    monkeypatch.setattr(TraceViewer, "run", lambda self: opened.append(self))
    real = demo.record_all
    monkeypatch.setattr(demo, "record_all", lambda folder: real(folder, isolate=False))
    out = tmp_path / "rec"
    assert demo.run(_args(output=str(out))) == 0
    (app,) = opened
    assert app.gallery is not None and len(app.gallery) == len(SCENARIOS)
    for s in SCENARIOS:
        recorded = (out / s.trace_name).read_bytes()
        assert recorded == (demo.COMMITTED / s.trace_name).read_bytes(), s.id
    err = capsys.readouterr().err
    assert f"recording {len(SCENARIOS)} scenarios into {out}" in err
    assert f"[ 1/{len(SCENARIOS)}] succeed_pending_write" in err


def test_demo_removes_its_temporary_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    folders: list[Path] = []

    def fake_record_all(folder: Path) -> list[GalleryEntry]:
        folders.append(folder)
        return [demo.entry(SCENARIOS[0], folder)]

    monkeypatch.setattr(demo, "record_all", fake_record_all)
    monkeypatch.setattr(TraceViewer, "run", lambda self: None)
    assert demo.run(_args()) == 0
    (folder,) = folders
    assert "lambda-trace-demo-" in folder.name and not folder.exists()


def test_demo_no_record_opens_the_committed_traces(monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[TraceViewer] = []
    monkeypatch.setattr(TraceViewer, "run", lambda self: opened.append(self))
    assert demo.run(_args(no_record=True)) == 0
    assert opened[0].gallery_source == str(demo.COMMITTED)


def test_demo_no_record_without_traces_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(demo.CliError, match="no recorded scenarios in"):
        demo.committed_entries(tmp_path)
