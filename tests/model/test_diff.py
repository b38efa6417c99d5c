"""Alignment and comparison of two invocations, on hand-written traces."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from lambda_trace.model import load_trace
from lambda_trace.model.diff import (
    DEFAULT_THRESHOLD,
    Threshold,
    diff_invocations,
    diff_traces,
    parse_threshold,
)
from lambda_trace.model.diff_text import render_diff_text
from lambda_trace.model.trace import Trace
from tests.model.builder import MS, S, TraceBuilder

Body = Callable[[TraceBuilder], None]


def one(tmp_path: Path, name: str, body: Body, *, start: int = 0, skip_ids: int = 0) -> Trace:
    """A trace with one cold invocation: the handler, then `body`, answered, frozen, ended."""
    b = TraceBuilder()
    b.next_work += skip_ids  # ids never matter to the alignment
    b.at(start).init().init_end().invoke(1, cold=True)
    h = b.handler()
    b.emit("work.begin", work=h)
    body(b)
    b.emit("work.end", work=h).done(h)
    b.respond().end().freeze().shutdown("end")
    return load_trace(b.write(tmp_path / f"{name}.jsonl"))


def pair(tmp_path: Path, body_a: Body, body_b: Body, **kw: int):  # type: ignore[no-untyped-def]
    a = one(tmp_path, "a", body_a)
    b = one(tmp_path, "b", body_b, **kw)
    return diff_invocations(a, a.invocation(1), b, b.invocation(1))


def names(rows, side: str) -> list[str | None]:  # type: ignore[no-untyped-def]
    out = []
    for r in rows:
        facts = getattr(r, side)
        out.append(None if facts is None else facts.name)
    return out


def finished(b: TraceBuilder, type: str, name: str, site: str, ns: int = MS) -> int:
    w = b.create(type, name, site)
    b.step(w, ns).done(w)
    return w


def only(type: str, name: str, site: str, ns: int = MS) -> Body:
    """A body creating one unit of work that runs `ns` and finishes."""

    def body(b: TraceBuilder) -> None:
        finished(b, type, name, site, ns)

    return body


def test_a_trace_against_itself_is_equivalent(tmp_path: Path) -> None:
    def body(b: TraceBuilder) -> None:
        finished(b, "timer", "tick", "app.py:5")
        finished(b, "task", "write", "app.py:6")

    t = one(tmp_path, "t", body)
    d = diff_traces(t, t)
    assert d.equivalent and len(d.pairs) == 1
    assert [r.match for r in d.pairs[0].rows] == ["same"] * 3
    assert "no differences" in render_diff_text(d)


def test_ids_and_absolute_times_do_not_matter(tmp_path: Path) -> None:
    def body(b: TraceBuilder) -> None:
        finished(b, "timer", "tick", "app.py:5")
        finished(b, "task", "write", "app.py:6")

    d = pair(tmp_path, body, body, start=7 * S, skip_ids=40)
    assert d.equivalent
    assert [r.a.work for r in d.rows] != [r.b.work for r in d.rows]  # type: ignore[union-attr]


def test_reordered_creation_still_pairs_by_what_the_work_is(tmp_path: Path) -> None:
    def first(b: TraceBuilder) -> None:
        finished(b, "timer", "tick", "app.py:5")
        finished(b, "task", "write", "app.py:6")

    def second(b: TraceBuilder) -> None:
        finished(b, "task", "write", "app.py:6")
        finished(b, "timer", "tick", "app.py:5")

    d = pair(tmp_path, first, second)
    assert [r.match for r in d.rows] == ["same", "same", "same"]
    assert names(d.rows, "a") == names(d.rows, "b")
    assert all(r.kind in ("same", "timing") for r in d.rows)


def test_renamed_work_matches_by_type_and_site(tmp_path: Path) -> None:
    d = pair(
        tmp_path,
        only("task", "fetch", "app.py:20"),
        only("task", "fetch_user", "app.py:20"),
    )
    (row,) = [r for r in d.rows if r.a is not None and r.a.role is None]
    assert row.match == "renamed" and row.kinds == ["renamed"]
    assert row.b is not None and row.b.name == "fetch_user"
    assert [(c.field, c.a, c.b) for c in row.changes] == [("name", "fetch", "fetch_user")]
    assert not d.equivalent


def test_moved_work_matches_by_type_and_name(tmp_path: Path) -> None:
    d = pair(
        tmp_path,
        only("task", "fetch", "app.py:20"),
        only("task", "fetch", "app.py:24"),
    )
    (row,) = [r for r in d.rows if r.a is not None and r.a.role is None]
    assert row.match == "moved" and row.kind == "moved"


def test_duplicated_work_with_the_same_site_pairs_by_order_among_equals(tmp_path: Path) -> None:
    def twice(b: TraceBuilder) -> None:
        for _ in range(2):
            finished(b, "timer", "retry", "app.py:30")

    def three_times(b: TraceBuilder) -> None:
        for _ in range(3):
            finished(b, "timer", "retry", "app.py:30")

    d = pair(tmp_path, twice, three_times)
    kinds = [r.kind for r in d.rows if r.either.role is None]  # the handler ran 1 ms longer
    assert kinds == ["same", "same", "added"]
    added = next(r for r in d.rows if r.kind == "added")
    b_rows = [r.b.work for r in d.rows if r.b is not None and r.b.name == "retry"]
    assert added.b is not None and added.b.work == max(b_rows)  # the third one is the extra


def test_work_on_one_side_only(tmp_path: Path) -> None:
    def with_extra(b: TraceBuilder) -> None:
        finished(b, "task", "write", "app.py:6", 0)
        finished(b, "callback", "metrics", "app.py:9", 0)

    def without(b: TraceBuilder) -> None:
        finished(b, "task", "write", "app.py:6", 0)

    d = pair(tmp_path, with_extra, without)
    assert [r.kind for r in d.rows] == ["same", "same", "removed"]
    assert d.rows[-1].a is not None and d.rows[-1].a.name == "metrics"
    back = pair(tmp_path, without, with_extra)
    assert [r.kind for r in back.rows] == ["same", "same", "added"]
    text = render_diff_text(diff_traces(back.a_trace, back.b_trace))
    assert "+ callback `metrics` (app.py:9)  only in B" in text


def test_the_handler_always_pairs(tmp_path: Path) -> None:
    a = TraceBuilder()
    a.init().init_end().invoke(1, cold=True)
    h = a.create("task", "handler main", "app.py:1", role="handler")
    a.step(h).done(h).respond().end().freeze()
    b = TraceBuilder()
    b.init().init_end().invoke(1, cold=True)
    h = b.create("task", "handler other", "other.py:3", role="handler")
    b.step(h).done(h).respond().end().freeze()
    ta, tb = load_trace(a.write(tmp_path / "a.jsonl")), load_trace(b.write(tmp_path / "b.jsonl"))
    d = diff_invocations(ta, ta.invocation(1), tb, tb.invocation(1))
    (row,) = d.rows
    assert row.match == "renamed" and row.a is not None and row.a.role == "handler"


def test_work_created_earlier_that_runs_here_takes_part(tmp_path: Path) -> None:
    b = TraceBuilder()
    b.init().init_end().invoke(1, cold=True)
    h = b.handler()
    b.step(h).done(h)
    w = b.create("task", "write", "app.py:6")
    b.step(w)
    b.respond("succeed").end().freeze(w)
    b.thaw(2, S)
    b.step(w, MS).done(w)
    b.log(w, "written", "req-1")
    h2 = b.handler()
    b.step(h2).done(h2)
    w2 = b.create("task", "write", "app.py:6")
    b.step(w2, MS).done(w2)
    b.respond("succeed").end().freeze().shutdown("end")
    t = load_trace(b.write(tmp_path / "t.jsonl"))
    d = diff_invocations(t, t.invocation(1), t, t.invocation(2))
    kinds = {(r.either.name, r.either.origin): r.kind for r in d.rows}
    assert kinds[("write", "earlier")] == "added"  # the leaked write, only in the warm one
    row = next(r for r in d.rows if r.b is not None and r.b.origin == "earlier")
    assert {f.category for f in row.b.findings} >= {"crossed_invocation"}  # type: ignore[union-attr]
    here = next(r for r in d.rows if r.a is not None and r.a.name == "write")
    assert here.kinds[:2] == ["findings", "fate"]  # leaked in 1, clean in 2
    assert {f.category for f in here.findings_removed} >= {"pending_at_freeze"}
    # The leaked write ran 1 ms before the handler of 2 started: it answered later too.
    assert [c.field for c in d.changes] == ["cold", "answered_ms", "pending_at_freeze"]


def test_timing_changes_follow_the_threshold(tmp_path: Path) -> None:
    d = pair(
        tmp_path,
        only("task", "write", "app.py:6", 10 * MS),
        only("task", "write", "app.py:6", 11 * MS),
    )
    assert d.equivalent  # 10% and 1 ms: below the default 20%
    a, b = d.a_trace, d.b_trace
    loud = diff_invocations(a, a.invocation(1), b, b.invocation(1), threshold=Threshold(0.05))
    row = next(r for r in loud.rows if r.kind == "timing")
    assert ("running_ms", 10 * MS, 11 * MS) in [(c.field, c.a, c.b) for c in row.changes]
    quiet = diff_invocations(
        a, a.invocation(1), b, b.invocation(1), threshold=parse_threshold("5ms")
    )
    assert quiet.equivalent


@pytest.mark.parametrize(
    ("text", "ratio", "min_ns"),
    [
        (None, DEFAULT_THRESHOLD.ratio, DEFAULT_THRESHOLD.min_ns),
        ("20%", 0.2, DEFAULT_THRESHOLD.min_ns),
        ("5ms", 0.0, 5 * MS),
        ("10%,0ms", 0.1, 0),
        ("2.5 %", 0.025, DEFAULT_THRESHOLD.min_ns),
    ],
)
def test_parse_threshold(text: str | None, ratio: float, min_ns: int) -> None:
    assert parse_threshold(text) == Threshold(ratio, min_ns)


@pytest.mark.parametrize("text", ["abc", "20%,30%", "5ms,6ms", "-3ms", ""])
def test_parse_threshold_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="invalid threshold"):
        parse_threshold(text)


def test_the_model_package_does_not_import_textual_for_diff() -> None:
    import subprocess
    import sys

    code = "import lambda_trace.model.diff, lambda_trace.model.diff_text, sys; "
    code += "assert 'textual' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


TRACES = sorted((Path(__file__).resolve().parents[2] / "traces").glob("*.jsonl"))


@pytest.mark.parametrize("path", TRACES, ids=lambda p: p.stem)
def test_participants_from_columns_match_the_trace_index(path: Path) -> None:
    from lambda_trace.model.align import participant_rows

    trace = load_trace(path)
    assert trace._created_in is None  # nothing indexed it yet: participant_rows scans columns
    scanned = [participant_rows(trace, inv) for inv in trace.invocations]
    trace._index_works()
    assert scanned == [participant_rows(trace, inv) for inv in trace.invocations]


@pytest.mark.parametrize("path", TRACES, ids=lambda p: p.stem)
def test_rows_compared_from_columns_agree_with_their_facts(path: Path) -> None:
    """Rows decide their kinds from the columns and make `WorkFacts` on use; the two agree."""
    from lambda_trace.model.diff import KINDS

    trace = load_trace(path)
    for sel_a in range(1, len(trace.invocations) + 1):
        for sel_b in range(1, len(trace.invocations) + 1):
            pair = diff_traces(trace, trace, sel_a, sel_b, threshold=Threshold(0.0, 0)).pairs[0]
            for r in pair.rows:
                a, b = r.a, r.b
                assert (r.a_work is None) == (a is None) and (r.b_work is None) == (b is None)
                if a is None or b is None:
                    continue
                assert r.a_work is not None and r.a_work.id == a.work
                expect = set()
                if {f.key for f in a.findings} != {f.key for f in b.findings}:
                    expect.add("findings")
                if (a.fate, a.finished_in) != (b.fate, b.finished_in):
                    expect.add("fate")
                if a.pending_at_freeze != b.pending_at_freeze:
                    expect.add("pending")
                if a.error_type != b.error_type:
                    expect.add("error")
                timed = [(a.running_ns, b.running_ns)]
                if a.origin == "here":
                    timed.append((a.created_ns, b.created_ns))
                if a.finished_in == b.finished_in and a.done_ns is not None:
                    timed.append((a.done_ns, b.done_ns or 0) if b.done_ns is not None else (0, 0))
                if any(x != y for x, y in timed):
                    expect.add("timing")
                if r.match != "same":
                    expect.add(r.match)
                assert r.kinds == [k for k in KINDS if k in expect]
