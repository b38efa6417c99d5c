"""Figures 3 and 4: the viewer's first frame and its key-press latency, 1M vs 10k events.

Headless (`App.run_test`, animations off). First frame: from entering `run_test` to the first
frame of the main screen handed to the driver (`App._display`), header included; the trace is
still loading then. Interaction: once loaded, each key press (scroll, page, zoom, pan, replay
step) is timed until the screen has processed it and repainted (`_wait_for_screen` and a forced
`_on_timer_update`, twice, for the messages a move sends). Sessions alternate small and big.
`python tests/benchmarks/bench_viewer.py [EVENTS]` (default 1,000,000).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

os.environ["TEXTUAL_ANIMATIONS"] = "none"
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from textual import events
from textual.widgets import Static

from lambda_trace.tui.app import TraceViewer
from lambda_trace.tui.screens.main import MainScreen
from tests.benchmarks.common import BIG, SMALL, Figure, bench_dir, show, synthetic

SIZE = (160, 48)
SESSIONS = 3
FIRST_FRAME_RATIO = 1.5
FIRST_FRAME_S = 0.5
INTERACTION_RATIO = 1.5
KEYS: list[tuple[str, str, str | None]] = [
    *[("scroll", "j", "j")] * 12,
    *[("scroll", "pagedown", None)] * 4,
    *[("scroll", "k", "k")] * 6,
    *[("zoom", "plus", "+")] * 4,
    *[("zoom", "minus", "-")] * 3,
    *[("pan", "right", None)] * 4,
    *[("pan", "left", None)] * 2,
    ("replay", "r", "r"),
    *[("replay", "full_stop", ".")] * 12,
    *[("replay", "comma", ",")] * 4,
    *[("invocation", "right_square_bracket", "]")] * 4,
]
"""(what, key, character) pressed in order on the loaded main screen; "r" opens the replay."""


async def press(app: Any, pilot: Any, key: str, char: str | None) -> None:
    """Post the key and wait until it and what it caused are processed and painted.

    Not `pilot.press`: that sleeps at least 40 ms waiting for the CPU to go idle, which would
    hide the work being measured.
    """
    event = events.Key(key, char)
    event.set_sender(app)
    app.post_message(event)
    for _ in range(3):
        await pilot._wait_for_screen()
        app.screen._on_timer_update()


async def session(path: Path, interact: bool) -> tuple[float, dict[str, list[float]]]:
    """One viewer run: (first frame s, {what: [key latency s]})."""
    app = TraceViewer(str(path))
    first: list[float] = []
    real_display = app._display

    def display(screen: Any, renderable: Any) -> None:
        if not first and renderable is not None and isinstance(screen, MainScreen):
            header = str(screen.query_one("#header", Static).render())
            if path.name in header:
                first.append(time.perf_counter())
        real_display(screen, renderable)

    app._display = display  # type: ignore[method-assign]
    latencies: dict[str, list[float]] = {}
    t0 = time.perf_counter()
    async with app.run_test(size=SIZE) as pilot:
        while not first:
            await asyncio.sleep(0.001)
        await app.workers.wait_for_complete()
        await pilot.pause()
        if app.main.trace is None:
            raise RuntimeError(f"viewer failed to load {path}: {app.main.failed}")
        if interact:
            for what, key, char in KEYS:
                k0 = time.perf_counter()
                await press(app, pilot, key, char)
                latencies.setdefault(what, []).append(time.perf_counter() - k0)
    return first[0] - t0, latencies


def run(small: Path, big: Path) -> list[Figure]:
    print(f"viewer: {small.name} vs {big.name}, {SESSIONS} sessions each, size {SIZE}")
    firsts: dict[Path, list[float]] = {small: [], big: []}
    keys: dict[Path, dict[str, list[float]]] = {}
    for i in range(SESSIONS):
        for path in (small, big):
            first, lat = asyncio.run(session(path, interact=i == SESSIONS - 1))
            firsts[path].append(first)
            if lat:
                keys[path] = lat
    f_small, f_big = min(firsts[small]), min(firsts[big])
    print(
        f"  first frame: 10k {f_small * 1e3:.0f} ms, 1M {f_big * 1e3:.0f} ms (best of {SESSIONS})"
    )
    worst = 0.0
    for what in keys[small]:
        s = statistics.median(keys[small][what])
        b = statistics.median(keys[big][what])
        worst = max(worst, b / s)
        print(
            f"  {what:10} median key->repaint: 10k {s * 1e3:.1f} ms, 1M {b * 1e3:.1f} ms: {b / s:.2f}x"
        )
    all_s = statistics.median(x for v in keys[small].values() for x in v)
    all_b = statistics.median(x for v in keys[big].values() for x in v)
    figures = [
        Figure(
            "3. viewer first frame 1M vs 10k",
            f"<= {FIRST_FRAME_RATIO}x and < {FIRST_FRAME_S} s",
            f"{f_big * 1e3:.0f} ms vs {f_small * 1e3:.0f} ms",
            f_big / f_small,
            f_big / f_small <= FIRST_FRAME_RATIO and f_big < FIRST_FRAME_S,
        ),
        Figure(
            "4. key press -> repaint 1M vs 10k",
            f"<= {INTERACTION_RATIO}x (median)",
            f"{all_b * 1e3:.1f} ms vs {all_s * 1e3:.1f} ms",
            all_b / all_s,
            all_b / all_s <= INTERACTION_RATIO,
            note=f"worst key kind {worst:.2f}x",
        ),
    ]
    show(figures)
    return figures


def main() -> None:
    events = int(sys.argv[1]) if len(sys.argv) > 1 else BIG
    tmp = bench_dir()
    run(synthetic(tmp, SMALL), synthetic(tmp, events))


if __name__ == "__main__":
    main()
