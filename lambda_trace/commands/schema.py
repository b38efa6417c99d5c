"""`lambda-trace schema`: print the JSON Schema of one trace line."""

from __future__ import annotations

import argparse
import sys

import orjson

from ..model.events import json_schema


def run(args: argparse.Namespace) -> int:
    sys.stdout.write(orjson.dumps(json_schema(), option=orjson.OPT_INDENT_2).decode() + "\n")
    return 0
