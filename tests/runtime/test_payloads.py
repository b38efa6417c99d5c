"""Secure by default: payloads are recorded as size + hash unless asked, and then redacted."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import orjson

from tests.runtime.helpers import record

HANDLER = """
def handler(event, context):
    context.succeed({"token": "abc", "user": event["user"]})
"""
EVENT = {"user": "ada", "password": "hunter2", "headers": {"Authorization": "Bearer x"}}


def test_payloads_are_size_and_hash_by_default(tmp_path: Path) -> None:
    os.environ["LT_TEST_SECRET"] = "do-not-record"
    try:
        rec = record(tmp_path, HANDLER, events=[EVENT])
    finally:
        del os.environ["LT_TEST_SECRET"]
    start = rec.of("invoke.start")[0]
    canonical = orjson.dumps(EVENT, option=orjson.OPT_SORT_KEYS)
    assert start["event_size"] == len(canonical)
    assert start["event_sha256"] == hashlib.sha256(canonical).hexdigest()
    assert "event" not in start and "result" not in rec.of("respond.post")[0]
    raw = (tmp_path / "trace.jsonl").read_bytes()
    for secret in (b"hunter2", b"Bearer x", b"abc", b"do-not-record"):
        assert secret not in raw


def test_recorded_payloads_are_redacted(tmp_path: Path) -> None:
    rec = record(tmp_path, HANDLER, events=[EVENT], record_payloads=True)
    assert rec.of("invoke.start")[0]["event"] == {
        "user": "ada", "password": "[redacted]", "headers": {"Authorization": "[redacted]"}
    }  # fmt: skip
    assert rec.of("respond.post")[0]["result"] == {"token": "[redacted]", "user": "ada"}
