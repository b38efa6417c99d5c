"""The text of `lambda-trace diff`: a unified-diff-like listing, plain or ANSI colour.

```
--- a.jsonl @1  cold success via callback, held 120 ms
+++ b.jsonl @1  cold success via callback
@@ invocation 1 vs 1: 2 differences @@
- held           120 ms
+ held           0 ns
! task `save_order` (app.py:40)  findings, fate
-     finished in this invocation
+     finished in the next invocation
+     pending_at_freeze: ...
  1 unchanged
```
"""

from __future__ import annotations

from collections.abc import Callable

from .diff import Change, Diff, FindingFact, InvocationFacts, PairDiff, Row, WorkFacts
from .report import _Painter, plain
from .units import format_ns

_MARK = {"removed": "-", "added": "+"}


def where_phrase(at: int | None) -> str:
    """Where something happened, relative to the compared invocation (0 = this one)."""
    if at is None:
        return "outside any invocation"
    if at == 0:
        return "this invocation"
    if at == 1:
        return "the next invocation"
    if at == -1:
        return "the previous invocation"
    return f"{at} invocations later" if at > 0 else f"{-at} invocations earlier"


def _inv_summary(f: InvocationFacts) -> str:
    head = f"{'cold' if f.cold else 'warm'} {f.outcome or 'unfinished'}"
    if f.response_via is not None:
        head += f" via {f.response_via}"
    elif f.outcome is not None:
        head += " answered by the runtime"
    parts = [head]
    if f.held_ns:
        parts.append(f"held {format_ns(f.held_ns)}")
    if f.duration_ns is not None:
        parts.append(f"took {format_ns(f.duration_ns)}")
    return ", ".join(parts)


def change_value(c: Change, v: object, safe: Callable[[str], str] = plain) -> str:
    """One side of a change in words; text from the trace goes through `safe` (the terminal's
    or the viewer's way of showing control characters)."""
    if v is None:
        return "never" if c.field == "finished_in" else "—"
    if c.timing and isinstance(v, int):
        return format_ns(v)
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, list):
        return ", ".join(safe(str(x)) for x in v) if v else "none"
    if c.field == "finished_in" and isinstance(v, int):
        return where_phrase(v)
    return safe(str(v))


_FIELD_LABEL = {
    "cold": "cold start",
    "outcome": "outcome",
    "respond_via": "answered via",
    "response_via": "response via",
    "status": "status",
    "error_type": "error",
    "answered_ms": "answered at",
    "held_ms": "held",
    "duration_ms": "duration",
    "held_by": "held by",
    "pending_at_freeze": "pending at freeze",
    "fate": "fate",
    "finished_in": "finished in",
    "running_ms": "running",
    "created_ms": "created at",
    "done_ms": "done at",
    "name": "name",
    "site": "site",
}


def _finding(f: FindingFact) -> str:
    return f"{f.category} (in {where_phrase(f.at)})"


def _origin(w: WorkFacts) -> str:
    if w.origin == "init":
        return ", created during INIT"
    if w.origin == "earlier":
        return ", created in an earlier invocation"
    return ""


def render_diff_text(diff: Diff, *, color: bool = False) -> str:
    """The whole diff as text: a header per pair, changed rows, a summary line."""
    paint = _Painter(color)
    out: list[str] = []
    name_a, name_b = plain(diff.a.path), plain(diff.b.path)
    for pair in diff.pairs:
        out.extend(_pair_lines(pair, name_a, name_b, paint))
        out.append("")
    for side, name, indexes in (("-", name_a, diff.unpaired_a), ("+", name_b, diff.unpaired_b)):
        if indexes:
            listed = ", ".join(f"@{i}" for i in indexes)
            style = "red" if side == "-" else "green"
            out.append(paint(f"{side} only in {name}: {listed}", style))
    out.append(_summary(diff, paint))
    return "\n".join(out) + "\n"


def _summary(diff: Diff, paint: _Painter) -> str:
    pairs = len(diff.pairs)
    if diff.equivalent:
        return paint(f"equivalent: {pairs} pair(s) of invocations, no differences", "green")
    differ = sum(1 for p in diff.pairs if not p.equivalent)
    count = sum(p.differences for p in diff.pairs)
    unpaired = len(diff.unpaired_a) + len(diff.unpaired_b)
    extra = f", {unpaired} invocation(s) without a partner" if unpaired else ""
    return paint(
        f"differ: {differ} of {pairs} pair(s), {count} difference(s){extra}", "bold", "yellow"
    )


def _pair_lines(pair: PairDiff, name_a: str, name_b: str, paint: _Painter) -> list[str]:
    out = [
        paint(f"--- {name_a} @{pair.a.index}  {_inv_summary(pair.a)}", "bold", "red"),
        paint(f"+++ {name_b} @{pair.b.index}  {_inv_summary(pair.b)}", "bold", "green"),
    ]
    n = pair.differences
    what = "no differences" if n == 0 else f"{n} difference(s)"
    out.append(paint(f"@@ invocation {pair.a.index} vs {pair.b.index}: {what} @@", "cyan"))
    for c in pair.changes:
        out.extend(_change_lines(c, paint, ""))
    same = 0
    for row in pair.rows:
        if not row.changed:
            same += 1
            continue
        out.extend(_row_lines(row, paint))
    if same:
        out.append(paint(f"  {same} unit(s) of work unchanged", "dim"))
    return out


def _change_lines(c: Change, paint: _Painter, indent: str) -> list[str]:
    label = _FIELD_LABEL.get(c.field, c.field)
    return [
        paint(f"-{indent} {label + ':':<18} {change_value(c, c.a)}", "red"),
        paint(f"+{indent} {label + ':':<18} {change_value(c, c.b)}", "green"),
    ]


def _row_lines(row: Row, paint: _Painter) -> list[str]:
    w = row.either
    label = plain(w.label()) + _origin(w)
    if row.b is None:
        return [paint(f"- {label}  only in A{_findings_tail(w)}", "red")]
    if row.a is None:
        return [paint(f"+ {label}  only in B{_findings_tail(w)}", "green")]
    out = [paint(f"! {label}", "bold", "yellow") + paint(f"  {', '.join(row.kinds)}", "dim")]
    for f in row.findings_removed:
        out.append(paint(f"-     {_finding(f)}", "red"))
    for f in row.findings_added:
        out.append(paint(f"+     {_finding(f)}", "green"))
    for c in row.changes:
        out.extend(_change_lines(c, paint, "    "))
    return out


def _findings_tail(w: WorkFacts) -> str:
    if not w.findings:
        return ""
    return "; " + ", ".join(_finding(f) for f in w.findings)
