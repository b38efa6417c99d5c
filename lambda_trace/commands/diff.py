"""`lambda-trace diff`: not built yet (issue 7)."""

from __future__ import annotations

import argparse

from ..cli import CliError


def run(args: argparse.Namespace) -> int:
    raise CliError("this command is not built yet (issue 7)")
