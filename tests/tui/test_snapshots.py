"""A few screenshots of the viewer on the fixture traces (pytest-textual-snapshot).

Deterministic: virtual-clock fixtures, animations off (conftest), no blinking cursor on these
screens. Update after a deliberate change with `pytest tests/tui/test_snapshots.py --snapshot-update`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.pilot import Pilot

from lambda_trace.tui.app import TraceViewer

from .conftest import HELD, LEAKY

SIZE = (120, 36)
Compare = Callable[..., bool]


async def loaded(pilot: Pilot[Any]) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def test_main_screen(snap_compare: Compare) -> None:
    """Leaky trace, the write task of invocation 1 selected: its row, details and findings."""
    assert snap_compare(
        TraceViewer(str(LEAKY)), press=["j", "j"], run_before=loaded, terminal_size=SIZE
    )


def test_main_screen_held_response(snap_compare: Compare) -> None:
    """Held responses: invocation 1 zoomed in, the held stretch before the ▼ response."""
    app = TraceViewer(str(HELD))
    assert snap_compare(app, press=["shift+tab", "enter"], run_before=loaded, terminal_size=SIZE)


def test_leaks_screen(snap_compare: Compare) -> None:
    assert snap_compare(
        TraceViewer(str(LEAKY)), press=["L", "j"], run_before=loaded, terminal_size=SIZE
    )


def test_replay(snap_compare: Compare) -> None:
    """Replay stopped at the first thaw, then one step: the leaked timer runs in invocation 2."""
    press = ["r", "n", "n", "full_stop"]
    assert snap_compare(TraceViewer(str(LEAKY)), press=press, run_before=loaded, terminal_size=SIZE)


def test_help_screen(snap_compare: Compare) -> None:
    press = ["question_mark"]
    assert snap_compare(TraceViewer(str(LEAKY)), press=press, run_before=loaded, terminal_size=SIZE)
