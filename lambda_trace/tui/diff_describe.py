"""Words for the diff screen's details: the selected pair of rows (or invocations), side by side.

Pure functions returning Rich `Text` built with `append` (never markup), like `describe.py`.
"""

from __future__ import annotations

from rich.text import Text

from ..model.diff import Change, FindingFact, InvocationFacts, PairDiff, Row, WorkFacts
from ..model.diff_text import change_value, where_phrase
from ..model.units import format_ns
from .describe import BAD, GOOD, HEAD, KEY, MUTED, WARN, literal

KIND_WORDS = {
    "same": "unchanged",
    "removed": "only in A",
    "added": "only in B",
    "findings": "findings changed",
    "fate": "finished differently",
    "pending": "pending at the freeze on one side",
    "error": "another error",
    "timing": "timing changed",
    "renamed": "renamed (same type and site)",
    "moved": "moved (same type and name, another site)",
}


def _ms(ns: int | None) -> str:
    return "—" if ns is None else format_ns(ns)


def _changes(text: Text, changes: list[Change]) -> None:
    for c in changes:
        label = c.field.removesuffix("_ms").replace("_", " ")
        text.append(f"  {label:<18}", MUTED)
        text.append(change_value(c, c.a, literal), BAD)
        text.append("  →  ", MUTED)
        text.append(change_value(c, c.b, literal), GOOD)
        text.append("\n")


def _finding(text: Text, sign: str, f: FindingFact) -> None:
    text.append(f"  {sign} ", BAD if sign == "-" else GOOD)
    text.append(f.category, WARN)
    text.append(f" in {where_phrase(f.at)}  ", MUTED)
    text.append(literal(f.message))
    text.append("\n")


def _side(text: Text, name: str, w: WorkFacts | None) -> None:
    text.append(f"{name}  ", KEY)
    if w is None:
        text.append("—\n", MUTED)
        return
    kind = "handler" if w.role == "handler" else w.type
    text.append(f"{kind} {literal(w.name)} #{w.work}", HEAD)
    text.append(f"  {literal(w.site)}\n", MUTED)
    origin = {"here": "created here", "init": "created during INIT"}.get(
        w.origin, f"created in invocation #{w.created_in}"
    )
    finished = (
        f"finished ({w.fate}) in {where_phrase(w.finished_in)}"
        if w.finished_in is not None
        else f"never finished ({w.fate})"
    )
    text.append(f"    {origin}, at {format_ns(w.created_ns)}; ran {_ms(w.running_ns)}; ")
    text.append(finished, GOOD if w.finished_in == 0 and w.fate == "ok" else WARN)
    if w.pending_at_freeze:
        text.append("; pending at the freeze", WARN)
    text.append("\n")
    for f in w.findings:
        text.append(f"    ● {f.category}", WARN)
        text.append(f" in {where_phrase(f.at)}\n", MUTED)


def row_details(row: Row) -> Text:
    """A pair of aligned work: what changed, then each side."""
    text = Text()
    text.append(KIND_WORDS[row.kind], HEAD)
    if len(row.kinds) > 1:
        text.append("  (" + ", ".join(row.kinds) + ")", MUTED)
    text.append("\n")
    _side(text, "A", row.a)
    _side(text, "B", row.b)
    if row.findings_removed or row.findings_added:
        text.append("\nFindings\n", HEAD)
        for f in row.findings_removed:
            _finding(text, "-", f)
        for f in row.findings_added:
            _finding(text, "+", f)
    if row.changes:
        text.append("\nChanges\n", HEAD)
        _changes(text, row.changes)
    text.rstrip()
    return text


def _inv_line(text: Text, name: str, inv: InvocationFacts) -> None:
    text.append(f"{name}  ", KEY)
    text.append(f"#{inv.index} {'cold' if inv.cold else 'warm'} {inv.outcome or 'unfinished'}")
    via = inv.response_via or "the runtime"
    text.append(f", answered via {inv.respond_via or '—'} at {_ms(inv.answered_ns)}", MUTED)
    text.append(f", posted via {via}", MUTED)
    if inv.held_ns:
        text.append(f", held {format_ns(inv.held_ns)}", WARN)
    text.append("\n")


def pair_details(pair: PairDiff) -> Text:
    """The two invocations and what differs between them as a whole."""
    text = Text()
    n = pair.differences
    text.append("equivalent" if n == 0 else f"{n} difference(s)", GOOD if n == 0 else HEAD)
    text.append("\n")
    _inv_line(text, "A", pair.a)
    _inv_line(text, "B", pair.b)
    if pair.changes:
        text.append("\nChanges\n", HEAD)
        _changes(text, pair.changes)
    text.rstrip()
    return text
