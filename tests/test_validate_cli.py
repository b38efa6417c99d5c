"""`lambda-trace validate` on bad inputs: the exact message and exit code of each."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from lambda_trace.cli import main

HEADER = {
    "seq": 0, "ts": 0, "kind": "trace.start", "inv": None, "version": 1, "profile": "node",
    "handler": "h.py:handler", "clock": "virtual", "options": {}, "tool": "test",
}  # fmt: skip


def line(obj: object) -> bytes:
    return orjson.dumps(obj) + b"\n"


def ev(seq: int, **extra: object) -> bytes:
    return line({"seq": seq, "ts": seq, "kind": "work.begin", "inv": 1, "work": 7, **extra})


GOOD = line(HEADER) + ev(1) + ev(2)


def gz_truncated() -> bytes:
    data = gzip.compress(line(HEADER) + b"".join(ev(i) for i in range(1, 3000)))
    return data[: len(data) // 2]


# (name, file contents or None for "no file", expected exit code, expected output line)
CASES: list[tuple[str, Callable[[], bytes] | None, int, str]] = [
    ("missing", None, 2, "{p}: no such file"),
    ("empty", lambda: b"", 2, "{p}: empty file, not a lambda-trace trace"),
    ("garbage", lambda: bytes(range(256)) * 4, 2,
     "{p}:1: not a lambda-trace trace (first line is not JSON)"),
    ("not-object-header", lambda: line([1, 2]), 2,
     "{p}:1: missing trace.start header: not a lambda-trace trace"),
    ("missing-header", lambda: ev(1) + ev(2), 2,
     "{p}:1: missing trace.start header: not a lambda-trace trace"),
    ("version-2", lambda: line({**HEADER, "version": 2}), 2,
     "{p}:1: unsupported trace format version 2 (this lambda-trace reads version 1)"),
    ("not-object-line", lambda: line(HEADER) + line([1, 2]), 1,
     "{p}:2: expected a JSON object, got an array"),
    ("no-kind", lambda: line(HEADER) + line({"seq": 1, "ts": 1, "inv": 1}), 1,
     "{p}:2: missing field 'kind'"),
    ("wrong-type", lambda: line(HEADER) + ev(1, work="seven"), 1,
     "{p}:2: field 'work' has an invalid value 'seven'"),
    ("huge-line", lambda: line(HEADER) + b'{"x": "' + b"a" * 10_000_000 + b'"}\n' + ev(1), 1,
     "{p}:2: line is 10,000,010 bytes, over the 8,388,608-byte limit; skipped"),
    ("truncated-line", lambda: GOOD + ev(3)[:20], 1,
     "{p}:4: trace ends mid-line: last line truncated after 20 bytes"),
    ("truncated-gzip", gz_truncated, 1, "compressed stream ends early or is corrupt"),
    ("duplicate-seq", lambda: line(HEADER) + ev(1) + ev(1), 1,
     "{p}:3: seq 1 does not increase (previous 1)"),
    ("bad-json", lambda: GOOD + b"{nope}\n", 1, "{p}:4: invalid JSON at column 2: "),
]  # fmt: skip


@pytest.mark.parametrize(("name", "content", "code", "expected"), CASES, ids=[c[0] for c in CASES])
def test_validate_bad_inputs(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    content: Callable[[], bytes] | None,
    code: int,
    expected: str,
) -> None:
    path = tmp_path / f"{name}.jsonl"
    if content is not None:
        path.write_bytes(content())
    assert main(["validate", str(path)]) == code
    out, err = capsys.readouterr()
    text = expected.format(p=path)
    if code == 2:
        assert err == f"lambda-trace validate: error: {text}\n"
        assert out == ""
    else:
        first = out.splitlines()[0]
        assert first.startswith(text) if text.startswith(str(path)) else text in first
        assert "problem(s)" in err


def test_validate_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (
        f"lambda-trace validate: error: {tmp_path}: is a directory, not a trace file\n"
    )


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_validate_permission_denied(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(GOOD)
    path.chmod(0)
    assert main(["validate", str(path)]) == 2
    assert capsys.readouterr().err.endswith(f"{path}: permission denied\n")


def test_validate_unreadable_file(capsys: pytest.CaptureFixture[str]) -> None:
    # Opening /proc/self/mem works but reading offset 0 fails with EIO: an unreadable file even
    # for root, who is not stopped by file modes.
    assert main(["validate", "/proc/self/mem"]) == 2
    assert capsys.readouterr().err == (
        "lambda-trace validate: error: /proc/self/mem: cannot read: Input/output error\n"
    )


def test_validate_clean_trace(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "ok.jsonl.gz"
    path.write_bytes(gzip.compress(GOOD))
    assert main(["validate", str(path)]) == 0
    assert capsys.readouterr().err == f"{path}: ok (3 events)\n"


def test_unknown_kind_is_a_warning_not_a_failure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(GOOD + line({"seq": 3, "ts": 3, "kind": "x.new", "inv": 1}))
    assert main(["validate", str(path)]) == 0
    out, _ = capsys.readouterr()
    assert out == f"{path}:4: warning: unknown event kind 'x.new', kept as an opaque event\n"


def test_no_traceback_from_the_console_script(tmp_path: Path) -> None:
    path = tmp_path / "garbage.jsonl"
    path.write_bytes(b"\x00\xff" * 100)
    proc = subprocess.run(
        [sys.executable, "-m", "lambda_trace", "validate", str(path)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


def test_bad_arguments_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["record", "h.py:handler", "--timeout", "soon"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "invalid duration 'soon'" in err
