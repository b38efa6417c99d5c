"""The README teaches with real things: its commands and options exist, its `report` output is what
`report` prints today, its gallery table lists every scenario, its links and screenshots exist."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

import pytest

from lambda_trace.cli import build_parser
from lambda_trace.examples.catalog import SCENARIOS

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")

"""Pages another branch adds (the diff command, the benchmarks); may be missing until it is merged."""


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _synopsis() -> list[str]:
    block = README.split("## Command line", 1)[1].split("```", 2)[1]
    lines: list[str] = []
    for line in block.splitlines():
        if line.startswith("lambda-trace "):
            lines.append(line)
        elif line.strip() and lines:
            lines[-1] += " " + line.strip()
    return lines


def test_the_synopsis_names_every_command_and_only_real_options() -> None:
    commands = _subcommands()
    seen = set()
    for line in _synopsis():
        name = line.split()[1]
        assert name in commands, line
        seen.add(name)
        known = {s for a in commands[name]._actions for s in a.option_strings}
        for option in re.findall(r"(?<![\w-])(--?[a-z][\w-]*)", line):
            assert option in known, f"{name} has no option {option}"
    assert seen == set(commands)


def test_every_command_in_a_code_block_exists() -> None:
    commands = _subcommands()
    for block in re.findall(r"```(?:sh|text)?\n(.*?)```", README, re.S):
        for name in re.findall(r"^lambda-trace (\w+)", block, re.M):
            assert name in commands, name


def test_make_targets_exist() -> None:
    makefile = (ROOT / "Makefile").read_text()
    for target in re.findall(r"`make (\w+)`", README):
        assert re.search(rf"^{target}:", makefile, re.M), target


@pytest.mark.parametrize("trace", re.findall(r"<!-- report (\S+) -->", README))
def test_report_output_is_what_report_prints(trace: str) -> None:
    shown = README.split(f"<!-- report {trace} -->\n```text\n", 1)[1].split("```", 1)[0]
    out = subprocess.run(
        [sys.executable, "-m", "lambda_trace", "report", trace],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert shown == out, f"paste the output of `lambda-trace report {trace}` again"


def test_the_gallery_table_lists_every_scenario() -> None:
    for i, s in enumerate(SCENARIOS, 1):
        assert (
            f"| {i} | [`{s.id}`](lambda_trace/examples/{s.module}.py) | {s.profile} | {s.title} |"
            in README
        )


def test_links_and_images_exist() -> None:
    targets = re.findall(r"\]\(((?!https?:|#)[^)]+)\)", README)
    assert any(t.endswith(".svg") for t in targets)
    for target in targets:
        assert (ROOT / target).exists(), target
