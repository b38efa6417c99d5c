"""`lambda-trace record`: not built yet (issue 3)."""

from __future__ import annotations

import argparse

from ..cli import CliError


def run(args: argparse.Namespace) -> int:
    raise CliError("this command is not built yet (issue 3)")
