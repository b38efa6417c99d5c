"""`lambda-trace report`: text and JSON output, colour rules, exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import pytest
from pydantic import BaseModel, ConfigDict

from lambda_trace.cli import main
from lambda_trace.model import CATEGORIES
from tests.model.builder import MS, S, TraceBuilder


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class ReportFinding(BaseModel):
    """Extra keys allowed: each category adds its own facts (DESIGN.md `...`)."""

    model_config = ConfigDict(extra="allow", strict=True)
    id: int
    category: Literal[
        "crossed_invocation", "pending_at_freeze", "lost", "dropped", "held_response",
        "timeout_keepalive", "error_misattributed", "log_misattributed", "kept_alive",
    ]  # fmt: skip
    work: int | None
    type: str | None
    name: str | None
    site: str | None
    created_in: int | None
    ran_in: list[int]
    invocation: int | None
    message: str
    timings: dict[str, int]


class ReportInvocation(_Strict):
    index: int
    request_id: str
    env: int
    cold: bool
    outcome: Literal["success", "error", "timeout", "crash"] | None
    response_via: str | None
    held_ms: float
    duration_ms: float | None
    pending_at_freeze: list[int]
    findings: list[int]


class ReportSummary(_Strict):
    invocations: int
    cold_starts: int
    outcomes: dict[str, int]
    findings: int
    leaks: int
    by_category: dict[str, int]
    diagnostics: int
    truncated: bool


class Report(_Strict):
    schema_: Literal["lambda-trace.report/1"]
    trace: str
    profile: str
    handler: str
    invocations: list[ReportInvocation]
    findings: list[ReportFinding]
    diagnostics: list[str]
    summary: ReportSummary

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)

    @classmethod
    def parse(cls, data: dict[str, Any]) -> Report:
        data = dict(data)
        data["schema_"] = data.pop("schema")
        return cls.model_validate(data)


def leaky_trace(tmp_path: Path, name: str = "Leaky") -> Path:
    b = TraceBuilder()
    b.init().init_end().invoke(1, cold=True)
    h = b.handler()
    t = b.create("timer", name, "app.py:12", delay_ns=100 * MS)
    b.step(h, MS).respond("succeed").end().done(h).freeze(t)
    b.thaw(2, S).wait(3 * MS).step(t).done(t)
    h2 = b.handler()
    b.step(h2).respond().end().done(h2).freeze().shutdown("end")
    return b.write(tmp_path / "leaky.jsonl")


def clean_trace(tmp_path: Path, *, pooled: bool = False) -> Path:
    b = TraceBuilder()
    b.init().init_end().invoke(1, cold=True)
    h = b.handler()
    sock = b.create("io", "pool", "db.py:1") if pooled else None
    b.step(h, MS).respond().end().done(h)
    b.freeze(*([sock] if sock else [])).shutdown("end", *([sock] if sock else []))
    return b.write(tmp_path / "clean.jsonl")


def test_text_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(leaky_trace(tmp_path))]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[1] == "handler app.py:handler · profile node · 2 invocation(s), 1 cold"
    assert lines[2] == "findings: 1 crossed_invocation, 1 pending_at_freeze"
    assert "#1  cold  success  via succeed" in out
    assert "\x1b[" not in out  # piped: no colour
    assert all(len(line) <= 80 for line in lines[1:])
    i2 = lines.index(next(x for x in lines if x.startswith("#2")))
    assert lines[i2 + 1] == "  crossed_invocation"
    assert "ran 3 ms into invocation 2" in " ".join(lines[i2 + 2 : i2 + 4])


def test_json_report_validates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--json", str(leaky_trace(tmp_path))]) == 0
    data = json.loads(capsys.readouterr().out)
    report = Report.parse(data)
    assert [f.category for f in report.findings] == ["pending_at_freeze", "crossed_invocation"]
    assert report.invocations[0].findings == [0] and report.invocations[1].findings == [1]
    assert report.invocations[0].pending_at_freeze == [2]
    assert report.summary.by_category["crossed_invocation"] == 1
    assert set(report.summary.by_category) == set(CATEGORIES)
    assert report.summary.leaks == 2 and report.summary.invocations == 2


def test_fail_on_leak(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--fail-on-leak", str(leaky_trace(tmp_path))]) == 1
    assert main(["report", "--fail-on-leak", str(clean_trace(tmp_path))]) == 0
    assert "no findings" in capsys.readouterr().out


def test_kept_alive_alone_does_not_fail(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = clean_trace(tmp_path, pooled=True)
    assert main(["report", "--fail-on-leak", "--json", str(path)]) == 0
    report = Report.parse(json.loads(capsys.readouterr().out))
    assert [f.category for f in report.findings] == ["kept_alive"]
    assert report.summary.leaks == 0


def test_bad_input_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "nope.jsonl"
    path.write_text("not json\n")
    assert main(["report", str(path)]) == 2
    err = capsys.readouterr().err
    assert (
        err
        == f"lambda-trace report: error: {path}:1: not a lambda-trace trace (first line is not JSON)\n"
    )
    assert main(["report", str(tmp_path / "missing.jsonl")]) == 2


def test_diagnostics_shown_first(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = leaky_trace(tmp_path)
    data = path.read_bytes()
    path.write_bytes(data + b"{oops\n")
    bad_line = data.count(b"\n") + 1
    assert main(["report", str(path)]) == 0
    out = capsys.readouterr().out
    assert "1 problem(s) reading the trace:" in out
    assert out.index("problem(s)") < out.index("#1")
    assert main(["report", "--json", str(path)]) == 0
    report = Report.parse(json.loads(capsys.readouterr().out))
    assert report.diagnostics[0].startswith(f"{path}:{bad_line}: invalid JSON")


def test_colour_on_a_terminal_unless_no_color(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = leaky_trace(tmp_path, name="evil\x1b[31mname")
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setattr("sys.stdout.isatty", lambda: True)
    assert main(["report", str(path)]) == 0
    out = capsys.readouterr().out
    assert "\x1b[31m\x1b[1mcrossed_invocation\x1b[0m" in out
    # Text from the trace is shown escaped, never sent to the terminal as a control sequence.
    assert "evil\\x1b[31mname" in out and "evil\x1b" not in out
    monkeypatch.setenv("NO_COLOR", "1")
    assert main(["report", str(path)]) == 0
    assert "\x1b" not in capsys.readouterr().out
