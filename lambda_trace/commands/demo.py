"""`lambda-trace demo [--no-record] [-o DIR]`: record every bundled scenario and open the viewer on
the scenario gallery.

By default the scenarios are recorded afresh (deterministic, each in its own environment process,
~6 s for all 16) into a temporary folder removed on exit, so the demo shows the emulator working
rather than files someone committed; the bytes equal those under `traces/`. `--no-record` opens
the committed `traces/` of a checkout instead.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from ..cli import CliError
from ..examples.catalog import PACKAGE_ROOT, SCENARIOS, Scenario
from ..tui.screens.gallery import GalleryEntry

COMMITTED = PACKAGE_ROOT / "traces"
"""The recorded traces of a checkout (absent from an installed wheel)."""


def entry(scenario: Scenario, folder: Path) -> GalleryEntry:
    """The gallery line of `scenario`, its trace in `folder`."""
    return GalleryEntry(
        id=scenario.id,
        title=scenario.title,
        story=scenario.story,
        profile=scenario.profile,
        expected=scenario.findings,
        path=str(folder / scenario.trace_name),
        command=scenario.command(),
    )


def record_all(folder: Path, *, isolate: bool = True, quiet: bool = False) -> list[GalleryEntry]:
    """Record every catalogue scenario into `folder`, one progress line each on stderr."""
    from ..examples.record_all import record

    entries: list[GalleryEntry] = []
    total = len(SCENARIOS)
    for i, scenario in enumerate(SCENARIOS, 1):
        started = time.perf_counter()
        path = record(scenario, folder / scenario.trace_name, isolate=isolate)
        if not quiet:
            took = time.perf_counter() - started
            print(
                f"[{i:>2}/{total}] {scenario.id:<26} {scenario.profile:<7} {took:5.2f} s  -> {path.name}",
                file=sys.stderr,
            )
        entries.append(entry(scenario, folder))
    return entries


def committed_entries(folder: Path = COMMITTED) -> list[GalleryEntry]:
    """Entries for the traces already recorded in `folder`; CliError if there are none."""
    entries = [entry(s, folder) for s in SCENARIOS if (folder / s.trace_name).is_file()]
    if not entries:
        raise CliError(
            f"no recorded scenarios in {folder} (run without --no-record to record them)"
        )
    return entries


def run(args: argparse.Namespace) -> int:
    """Record (or find) the scenarios, then run the viewer on the gallery until the user quits."""
    from ..tui.app import TraceViewer

    if args.no_record:
        entries = committed_entries()
        TraceViewer(gallery=entries, gallery_source=str(COMMITTED)).run()
        return 0
    keep = args.output is not None
    if keep:
        folder = Path(args.output)
        if folder.exists() and not folder.is_dir():
            raise CliError(f"{folder}: not a directory")
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CliError(f"cannot create {folder}: {exc.strerror}") from None
    else:
        folder = Path(tempfile.mkdtemp(prefix="lambda-trace-demo-"))
    try:
        print(f"recording {len(SCENARIOS)} scenarios into {folder}", file=sys.stderr)
        entries = record_all(folder)
        TraceViewer(gallery=entries, gallery_source=str(folder)).run()
    finally:
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)
    return 0
