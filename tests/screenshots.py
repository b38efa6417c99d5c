"""Screenshots for the README, taken from the real viewer: `make screenshots` (or
`python tests/screenshots.py [NAME...]`) writes `docs/screenshots/<name>.svg`.

Each shot runs the app headless on a committed trace at 120x36, presses keys under Pilot and exports
the screen as SVG. Same traces, same keys -> the same files, so a diff in git means the viewer or a
trace changed.
"""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
SIZE = (120, 36)

os.environ.setdefault("TEXTUAL_ANIMATIONS", "none")
sys.path.insert(0, str(ROOT))

from lambda_trace.commands.demo import committed_entries  # noqa: E402
from lambda_trace.tui.app import TraceViewer  # noqa: E402


@dataclass(frozen=True)
class Shot:
    name: str
    title: str
    trace: str | None
    """Trace under traces/ to open; None = the gallery."""
    keys: tuple[str, ...] = ()


SHOTS = (
    Shot("gallery", "lambda-trace demo: the scenario gallery", None),
    Shot(
        "succeed_pending_write",
        "context.succeed() with a DB write pending",
        "succeed_pending_write.jsonl",
        ("j", "j"),
    ),
    Shot(
        "callback_held",
        "callback() with the default flag: the response is held",
        "callback_held.jsonl",
        ("shift+tab", "enter"),
    ),
    Shot(
        "callback_no_wait_pool",
        "callbackWaitsForEmptyEventLoop = False with a pool",
        "callback_no_wait_pool.jsonl",
        ("j", "j", "j", "j", "j"),
    ),
    Shot("leaks", "The leaks screen", "callback_no_wait_pool.jsonl", ("L",)),
    Shot("replay", "Replay at the first thaw", "succeed_pending_write.jsonl", ("r", "n", "n")),
)


async def take(shot: Shot) -> Path:
    """Run the viewer for one shot and write its SVG."""
    if shot.trace is None:
        # Relative paths (main() runs from the checkout): no machine's folder in the pictures.
        app = TraceViewer(gallery=committed_entries(Path("traces")), gallery_source="traces/")
    else:
        # A relative path, so the screen shows `traces/...` wherever the checkout lives.
        app = TraceViewer(f"traces/{shot.trace}")
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        for key in shot.keys:
            await pilot.press(key)
            await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        svg = app.export_screenshot(title=shot.title)
    path = OUT / f"{shot.name}.svg"
    path.write_text(svg, encoding="utf-8")
    return path


def main(names: list[str]) -> int:
    unknown = set(names) - {s.name for s in SHOTS}
    if unknown:
        print(f"unknown screenshot: {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    os.chdir(ROOT)
    OUT.mkdir(parents=True, exist_ok=True)
    for shot in SHOTS:
        if not names or shot.name in names:
            path = asyncio.run(take(shot))
            print(f"{shot.name:<24} -> {path.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
