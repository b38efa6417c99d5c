"""The README's screenshots are what the viewer draws today (`make screenshots` to refresh them)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests import screenshots


@pytest.mark.parametrize("shot", screenshots.SHOTS, ids=lambda s: s.name)
def test_screenshot_is_current(
    shot: screenshots.Shot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(screenshots.ROOT)
    monkeypatch.setattr(screenshots, "OUT", tmp_path)
    fresh = asyncio.run(screenshots.take(shot)).read_text(encoding="utf-8")
    committed = (screenshots.ROOT / "docs" / "screenshots" / f"{shot.name}.svg").read_text(
        encoding="utf-8"
    )
    assert fresh == committed, f"docs/screenshots/{shot.name}.svg is stale: run `make screenshots`"
