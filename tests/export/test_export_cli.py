"""`lambda-trace export` from the command line: outputs, and one-line errors with exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lambda_trace.cli import main
from tests.export.scenarios import leak_trace


@pytest.fixture
def trace(tmp_path: Path) -> Path:
    return leak_trace(tmp_path / "leak.jsonl")


def test_perfetto_to_file(trace: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    assert main(["export", str(trace), "--format", "perfetto", "-o", str(out)]) == 0
    doc = json.loads(out.read_bytes())
    assert doc["traceEvents"] and doc["metadata"]["lambda-trace"]["source"] == "leak.jsonl"


def test_otlp_to_stdout(trace: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "lambda_trace", "export", str(trace), "--format", "otlp"],
        capture_output=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 6 and all(json.loads(line)["resourceSpans"] for line in lines)
    assert result.stderr == b""


def test_gzip_trace(trace: Path, tmp_path: Path) -> None:
    import gzip

    gz = tmp_path / "leak.jsonl.gz"
    gz.write_bytes(gzip.compress(trace.read_bytes()))
    out = tmp_path / "out.jsonl"
    assert main(["export", str(gz), "--format", "otlp", "-o", str(out)]) == 0
    assert len(out.read_bytes().splitlines()) == 6


def test_not_a_trace(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text("hello\n")
    out = tmp_path / "out.json"
    assert main(["export", str(bad), "--format", "perfetto", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert (
        err
        == f"lambda-trace export: error: {bad}:1: not a lambda-trace trace (first line is not JSON)\n"
    )
    assert not out.exists()


def test_unwritable_output(trace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "no" / "such" / "dir" / "out.json"
    assert main(["export", str(trace), "--format", "otlp", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err == f"lambda-trace export: error: cannot write {out}: No such file or directory\n"
    assert main(["export", str(trace), "--format", "otlp", "-o", str(tmp_path)]) == 2
    assert "cannot write" in capsys.readouterr().err


def test_skipped_lines_are_counted(trace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with open(trace, "ab") as f:
        f.write(b"not json\n")
    out = trace.with_suffix(".json")
    assert main(["export", str(trace), "--format", "perfetto", "-o", str(out)]) == 0
    assert "1 line(s) skipped or flagged" in capsys.readouterr().err
    json.loads(out.read_bytes())


def test_format_is_required(trace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["export", str(trace)])
    assert exc.value.code == 2
