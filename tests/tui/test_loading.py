"""Loading: the first frame comes before the trace is read; a failed load is a message."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Static

from lambda_trace.model.reader import TraceFormatError
from lambda_trace.model.trace import Trace
from lambda_trace.tui.app import TraceViewer
from lambda_trace.tui.screens import main as main_screen
from lambda_trace.tui.widgets.timeline import Timeline

from .conftest import LEAKY


def test_first_frame_does_not_wait_for_the_load(monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()
    real = main_screen.load_trace

    def slow(path: Any, *, progress: Any = None) -> Trace:
        release.wait(10)
        return real(path, progress=progress)

    monkeypatch.setattr(main_screen, "load_trace", slow)

    async def go() -> None:
        app = TraceViewer(str(LEAKY))
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.pause()
            header = str(app.main.query_one("#header", Static).render())
            assert "leaky.jsonl" in header and "leaky.py:handler" in header and "loading" in header
            assert app.main.query_one("#loading").display
            assert app.main.query_one(Timeline).count == 0
            await pilot.press("plus", "L", "r")  # nothing to act on yet: no crash
            release.set()
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert not app.main.query_one("#loading").display
            assert app.main.query_one(Timeline).count == 3 + 12  # headers and works

    asyncio.run(go())


def test_a_failed_load_is_a_message(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def broken(path: Any, *, progress: Any = None) -> Trace:
        raise TraceFormatError(path, 0, "no such file")

    monkeypatch.setattr(main_screen, "load_trace", broken)

    async def go() -> None:
        app = TraceViewer(str(tmp_path / "gone.jsonl"))
        async with app.run_test(size=(100, 30)) as pilot:
            await app.workers.wait_for_complete()
            await pilot.pause()
            label = str(app.main.query_one("#loading-label", Static).render())
            assert "Cannot open" in label and "no such file" in label
            assert any("no such file" in n.message for n in app._notifications)

    asyncio.run(go())
