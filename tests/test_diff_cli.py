"""`lambda-trace diff`: recorded examples, the `lambda-trace.diff/1` document, text, exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import pytest
from pydantic import BaseModel, ConfigDict

from lambda_trace.cli import main
from lambda_trace.examples.catalog import PACKAGE_ROOT
from lambda_trace.runtime.supervisor import Environment

TRACES = PACKAGE_ROOT / "traces"
ARTICLE = Path(__file__).parent / "fixtures" / "article_flag.py"
Kind = Literal[
    "same", "removed", "added", "findings", "fate", "pending", "error", "timing", "renamed", "moved"
]  # fmt: skip


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class DiffTrace(_Strict):
    trace: str
    handler: str
    profile: str
    invocations: int


class DiffInvocation(_Strict):
    index: int
    request_id: str
    env: int
    cold: bool
    outcome: str | None
    respond_via: str | None
    response_via: str | None
    status: str | None
    error_type: str | None
    answered_ms: float | None
    held_ms: float
    held_by: list[str]
    duration_ms: float | None
    pending_at_freeze: list[str]


class DiffFinding(_Strict):
    category: str
    at: int | None
    message: str


class DiffWork(_Strict):
    work: int
    type: str
    name: str
    site: str
    role: Literal["handler"] | None
    origin: Literal["here", "init", "earlier"]
    created_in: int | None
    created_ms: float
    done_ms: float | None
    running_ms: float
    fate: Literal["ok", "error", "cancelled", "lost", "pending"]
    finished_in: int | None
    status: Literal["ok", "error", "cancelled"] | None
    error_type: str | None
    pending_at_freeze: bool
    findings: list[DiffFinding]


class DiffChange(_Strict):
    field: str
    a: Any
    b: Any


class DiffFindings(_Strict):
    removed: list[DiffFinding]
    added: list[DiffFinding]


class DiffRow(_Strict):
    kind: Kind
    kinds: list[Kind]
    match: Literal["same", "renamed", "moved", "added", "removed"]
    a: DiffWork | None
    b: DiffWork | None
    findings: DiffFindings
    changes: list[DiffChange]


class PairSummary(_Strict):
    rows: int
    same: int
    changed: int
    added: int
    removed: int
    by_kind: dict[str, int]


class DiffPair(_Strict):
    a: DiffInvocation
    b: DiffInvocation
    equivalent: bool
    changes: list[DiffChange]
    rows: list[DiffRow]
    summary: PairSummary


class Unpaired(_Strict):
    a: list[int]
    b: list[int]


class Summary(_Strict):
    pairs: int
    equivalent_pairs: int
    differences: int


class DiffDocument(_Strict):
    schema_: Literal["lambda-trace.diff/1"]
    a: DiffTrace
    b: DiffTrace
    threshold: dict[str, float]
    equivalent: bool
    pairs: list[DiffPair]
    unpaired: Unpaired
    summary: Summary


def document(out: str) -> DiffDocument:
    data = json.loads(out)
    data["schema_"] = data.pop("schema")
    return DiffDocument.model_validate(data)


@pytest.fixture(scope="module")
def article(tmp_path_factory: pytest.TempPathFactory) -> dict[bool, Path]:
    """The article's handler recorded twice, callbackWaitsForEmptyEventLoop true and false."""
    folder = tmp_path_factory.mktemp("article")
    out = {}
    for wait in (True, False):
        path = folder / f"wait_{str(wait).lower()}.jsonl"
        env = Environment(f"{ARTICLE}:handler", output=path, deterministic=True, isolate=False)
        try:
            for order in (1, 2):
                env.invoke({"order": order, "wait": wait})
        finally:
            env.shutdown("end")
        out[wait] = path
    return out


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["diff", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_flag_false_drops_the_held_response_and_the_write_crosses_over(
    article: dict[bool, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, f"{article[True]}@1", f"{article[False]}@1", "--json")
    assert code == 1
    doc = document(out)
    (p,) = doc.pairs
    assert not p.equivalent and not doc.equivalent
    assert p.a.held_ms == pytest.approx(120, abs=1) and p.b.held_ms == 0
    assert [h.split(" (")[0] for h in p.a.held_by] == ["task `save_order`"]
    assert p.b.held_by == []
    changed = {c.field: (c.a, c.b) for c in p.changes}
    assert changed["held_ms"][1] == 0
    assert changed["pending_at_freeze"][0] == []
    (write,) = [r for r in p.rows if r.a is not None and r.a.name == "save_order"]
    assert write.match == "same"
    assert write.kinds[:3] == ["findings", "fate", "pending"]
    assert [f.category for f in write.findings.removed] == ["held_response"]
    added = {(f.category, f.at) for f in write.findings.added}
    assert ("crossed_invocation", 1) in added and ("pending_at_freeze", 0) in added
    assert write.a is not None and write.b is not None
    assert (write.a.finished_in, write.b.finished_in) == (0, 1)

    code, text, _ = run(capsys, f"{article[True]}@1", f"{article[False]}@1")
    assert code == 1
    assert "\x1b[" not in text  # not a terminal: no colour
    assert text.startswith(f"--- {article[True]} @1  cold success via callback, held 12")
    assert "+     crossed_invocation (in the next invocation)" in text
    assert "-     held_response (in this invocation)" in text
    assert "+     finished in:       the next invocation" in text
    assert text.rstrip().endswith("difference(s)")


def test_without_at_n_every_invocation_is_paired_by_index(
    article: dict[bool, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, str(article[True]), str(article[False]), "--json")
    doc = document(out)
    assert code == 1 and [(p.a.index, p.b.index) for p in doc.pairs] == [(1, 1), (2, 2)]
    second = doc.pairs[1]
    incoming = [r for r in second.rows if r.b is not None and r.b.origin == "earlier"]
    assert [r.kind for r in incoming] == ["added"]  # invocation 1's write, run in 2


def test_cold_against_warm_in_one_trace(capsys: pytest.CaptureFixture[str]) -> None:
    trace = TRACES / "succeed_pending_write.jsonl"
    code, out, _ = run(capsys, f"{trace}@1", f"{trace}@2", "--json")
    assert code == 1
    (p,) = document(out).pairs
    assert {c.field: (c.a, c.b) for c in p.changes}["cold"] == (True, False)
    (leaked,) = [r for r in p.rows if r.kind == "added"]
    assert leaked.b is not None and leaked.b.origin == "earlier" and leaked.b.created_in == 1
    assert {f.category for f in leaked.b.findings} >= {"crossed_invocation", "log_misattributed"}


def test_a_trace_diffed_with_itself_is_empty_and_exits_0(
    capsys: pytest.CaptureFixture[str],
) -> None:
    trace = str(TRACES / "callback_no_wait_pool.jsonl")
    code, out, _ = run(capsys, trace, trace, "--text")
    assert code == 0
    changes = [ln for ln in out.splitlines() if ln[:1] in ("-", "+", "!") and ln[1:3] != ln[:1] * 2]
    assert changes == []
    assert out.rstrip().endswith("no differences")
    code, out, _ = run(capsys, f"{trace}@2", f"{trace}@2", "--json")
    doc = document(out)
    assert code == 0 and doc.equivalent and doc.summary.differences == 0


def test_one_at_n_selects_that_invocation_on_both_sides(
    capsys: pytest.CaptureFixture[str],
) -> None:
    trace = str(TRACES / "callback_held.jsonl")
    code, out, _ = run(capsys, f"{trace}@2", trace, "--json")
    assert code == 0 and [(p.a.index, p.b.index) for p in document(out).pairs] == [(2, 2)]


def test_invocations_without_a_partner_are_a_difference(
    capsys: pytest.CaptureFixture[str],
) -> None:
    three = str(TRACES / "callback_held.jsonl")
    two = str(TRACES / "node24_callback_rejected.jsonl")
    code, out, _ = run(capsys, three, two, "--json")
    doc = document(out)
    assert code == 1
    assert len(doc.pairs) + len(doc.unpaired.a) == 3


def test_colour_only_on_a_terminal_and_never_with_no_color(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import sys

    trace = str(TRACES / "succeed_pending_write.jsonl")
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    monkeypatch.delenv("NO_COLOR", raising=False)
    _, out, _ = run(capsys, f"{trace}@1", f"{trace}@2", "--text")
    assert "\x1b[" in out
    monkeypatch.setenv("NO_COLOR", "1")
    _, out, _ = run(capsys, f"{trace}@1", f"{trace}@2", "--text")
    assert "\x1b[" not in out


def test_trace_text_is_never_run_as_terminal_codes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.model.builder import TraceBuilder

    paths = []
    for name in ("plain", "evil\x1b[31m"):
        b = TraceBuilder()
        b.init().init_end().invoke(1, cold=True)
        w = b.create("task", name, "app.py:3")
        b.step(w).done(w).respond().end().freeze()
        paths.append(b.write(tmp_path / f"{len(paths)}.jsonl"))
    code, out, _ = run(capsys, str(paths[0]), str(paths[1]), "--text")
    assert code == 1 and "\x1b" not in out and "evil\\x1b[31m" in out


@pytest.mark.parametrize(
    ("a", "b", "message"),
    [
        ("missing.jsonl", "{trace}", "missing.jsonl: no such file"),
        (
            "{trace}@0",
            "{trace}",
            "{trace}: invalid invocation @0 (invocations are numbered from 1)",
        ),
        ("{trace}@two", "{trace}", "{trace}: invalid invocation @two (a whole number, e.g. @2)"),
        ("{trace}", "{trace}@9", "{trace}: no invocation @9 (the trace has 3)"),
        ("{notatrace}@1", "{trace}", "{notatrace}:1: not a lambda-trace trace"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    a: str, b: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    notatrace = tmp_path / "notes.txt"
    notatrace.write_text("hello\n")
    names = {"trace": str(TRACES / "callback_held.jsonl"), "notatrace": str(notatrace)}
    code, out, err = run(capsys, a.format(**names), b.format(**names), "--json")
    assert code == 2 and out == ""
    assert len(err.splitlines()) == 1
    assert err.startswith("lambda-trace diff: error: " + message.format(**names))


def test_bad_threshold_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    trace = str(TRACES / "callback_held.jsonl")
    code, _, err = run(capsys, trace, trace, "--threshold", "fast")
    assert code == 2 and "invalid threshold 'fast'" in err


def test_a_path_containing_an_at_sign_is_taken_whole(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    odd = tmp_path / "run@home.jsonl"
    odd.write_bytes((TRACES / "callback_held.jsonl").read_bytes())
    code, _, _ = run(capsys, str(odd), f"{odd}@1", "--json")
    assert code == 0
