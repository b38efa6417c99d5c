"""Timeline layout, pure: trace -> rows, a time axis with compressible freezes, one row -> cells.

No Textual here: the timeline widget turns the `(text, role)` runs these functions return into
strips, and tests call them directly ("what does row 3 look like at this zoom").
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from ..model.trace import Invocation, Trace
from ..model.units import format_ns
from ..model.works import Work

Run = tuple[str, str]
"""(text, role): consecutive cells drawn alike; `role` names a timeline component class."""

FREEZE_COLS = 3
"""Columns a freeze takes when freezes are compressed: frozen seconds would dwarf microseconds."""

GLYPH = {
    "blank": " ",
    "band": "░",
    "wait": "─",
    "leak": "┄",
    "frozen": "▒",
    "run": "█",
    "inv": "━",
    "held": "━",
    "post": "▼",
    "freeze": "❄",
    "start": "┃",
    "error": "✗",
    "cancelled": "×",  # noqa: RUF001 - the multiplication sign is the glyph
    "lost": "…",
}
"""Cell glyph of each role (markers included)."""

# Higher wins when several things fall in one cell.
_RANK = {
    "blank": 0,
    "band": 1,
    "wait": 2,
    "leak": 3,
    "frozen": 4,
    "inv": 5,
    "held": 6,
    "run": 7,
    "start": 8,
    "cancelled": 9,
    "lost": 9,
    "error": 10,
    "freeze": 11,
    "post": 12,
}

TYPE_LABEL = {"callback": "cb", "executor": "exec"}


@dataclass(frozen=True, slots=True)
class Row:
    """One timeline row: a group header (INIT of an environment, or an invocation) or a work."""

    kind: Literal["group", "work"]
    group: int
    """Invocation index the row belongs under (0: INIT, -1: created between environments)."""
    env: int | None
    work: int | None = None
    depth: int = 0
    """Nesting under the work's parent within the same group."""


def build_rows(trace: Trace) -> list[Row]:
    """Every work once, under a header for the invocation (or INIT) that created it, tree order."""
    invocations = {inv.index for inv in trace.invocations}
    by_group: dict[tuple[int, int | None], list[Work]] = {}
    orphans: list[Work] = []
    for w in trace.works:
        if w.created_in == 0:
            by_group.setdefault((0, w.env), []).append(w)
        elif w.created_in is not None and w.created_in in invocations:
            by_group.setdefault((w.created_in, None), []).append(w)
        else:
            orphans.append(w)
    rows: list[Row] = []
    seen_env: set[int] = set()
    for inv in trace.invocations:
        if inv.env not in seen_env:
            seen_env.add(inv.env)
            works = by_group.pop((0, inv.env), [])
            if works:
                rows.append(Row("group", 0, inv.env))
                rows.extend(_tree(works, 0, inv.env))
        rows.append(Row("group", inv.index, inv.env))
        rows.extend(_tree(by_group.pop((inv.index, None), []), inv.index, inv.env))
    for works in by_group.values():  # INIT of an environment that never got an invocation
        orphans.extend(works)
    if orphans:
        rows.append(Row("group", -1, None))
        rows.extend(_tree(orphans, -1, None))
    return rows


def _tree(works: list[Work], group: int, env: int | None) -> Iterable[Row]:
    ids = {w.id for w in works}
    children: dict[int | None, list[Work]] = {}
    for w in works:
        parent = w.parent if w.parent in ids else None
        children.setdefault(parent, []).append(w)
    stack: list[tuple[Work, int]] = [(w, 0) for w in reversed(children.get(None, []))]
    while stack:
        w, depth = stack.pop()
        yield Row("work", group, env, w.id, depth)
        stack.extend((c, depth + 1) for c in reversed(children.get(w.id, [])))


def group_title(trace: Trace, row: Row) -> str:
    """`#2 warm success` / `INIT env 1` / `other`."""
    if row.group == 0:
        return f"INIT env {row.env}"
    if row.group < 0:
        return "other"
    inv = trace.invocation(row.group)
    return f"#{inv.index} {'cold' if inv.cold else 'warm'} {inv.outcome or 'unfinished'}"


def work_title(w: Work) -> str:
    """`task write #2`: the type, the name as written, the id."""
    if w.role == "handler" and w.name.startswith("handler"):
        return f"{w.name} #{w.id}"
    kind = "handler" if w.role == "handler" else TYPE_LABEL.get(w.type, w.type)
    return f"{kind} {w.name} #{w.id}"


class TimeAxis:
    """Maps trace time (ns) to columns and back at one zoom; freezes may be squeezed.

    `x(ts)` is a float column counted from the trace start. With `compress`, every freeze takes
    `FREEZE_COLS` columns whatever its length, so a 1 s freeze does not hide 60 µs invocations.
    """

    def __init__(
        self,
        start_ns: int,
        end_ns: int,
        freezes: Iterable[tuple[int, int | None]],
        ns_per_col: float,
        *,
        compress: bool = True,
        freeze_cols: int = FREEZE_COLS,
    ) -> None:
        self.start = start_ns
        self.end = max(end_ns, start_ns)
        self.ns_per_col = max(float(ns_per_col), 1e-3)
        self.compress = compress
        self.freeze_cols = freeze_cols
        self.starts: list[int] = []
        self.ends: list[int] = []
        last = start_ns
        for f, t in sorted((f, self.end if t is None else t) for f, t in freezes):
            f = max(f, last)
            if t > f:
                self.starts.append(f)
                self.ends.append(t)
                last = t
        # Before freeze k: frozen ns and freeze columns of freezes 0..k-1.
        self._frozen = [0]
        self._cols = [0.0]
        for f, t in zip(self.starts, self.ends, strict=True):
            self._frozen.append(self._frozen[-1] + t - f)
            self._cols.append(self._cols[-1] + self._width(f, t))
        self._xs = [self.x(f) for f in self.starts]

    def _width(self, f: int, t: int) -> float:
        return float(self.freeze_cols) if self.compress else (t - f) / self.ns_per_col

    def x(self, ts: float) -> float:
        """Column of time `ts` (float; the cell is `floor`)."""
        k = bisect_right(self.starts, ts) - 1
        if k >= 0 and ts < self.ends[k]:
            f, t = self.starts[k], self.ends[k]
            base = (f - self.start - self._frozen[k]) / self.ns_per_col + self._cols[k]
            return base + (ts - f) / (t - f) * self._width(f, t)
        return (ts - self.start - self._frozen[k + 1]) / self.ns_per_col + self._cols[k + 1]

    def t(self, x: float) -> float:
        """Time at column `x` (inverse of `x`)."""
        k = bisect_right(self._xs, x) - 1
        if k >= 0:
            f, t = self.starts[k], self.ends[k]
            w = self._width(f, t)
            if x < self._xs[k] + w:
                return f + (x - self._xs[k]) / w * (t - f) if w else f
            return t + (x - self._xs[k] - w) * self.ns_per_col
        return self.start + x * self.ns_per_col

    @property
    def total_cols(self) -> float:
        """Columns from the trace start to its end."""
        return self.x(self.end)

    @staticmethod
    def fit_ns_per_col(
        start_ns: int,
        end_ns: int,
        freezes: Iterable[tuple[int, int | None]],
        cols: int,
        *,
        compress: bool = True,
    ) -> float:
        """The zoom that shows [start, end] in `cols` columns."""
        probe = TimeAxis(start_ns, end_ns, freezes, 1.0, compress=compress)
        n_freezes = len(probe.starts)
        if compress:
            active = (end_ns - start_ns) - probe._frozen[-1]
            room = max(cols - n_freezes * FREEZE_COLS - 1, 1)
            return max(active / room, 1.0)
        return max((end_ns - start_ns) / max(cols - 1, 1), 1.0)


class Cells:
    """A row of `width` cells being painted; higher-ranked roles win a cell."""

    def __init__(self, axis: TimeAxis, x0: int, width: int) -> None:
        self.axis = axis
        self.x0 = x0
        self.width = width
        self.roles = ["blank"] * width

    def span(self, begin: float, end: float, role: str) -> None:
        """Paint every cell [begin, end] touches (a zero-length span still marks one cell)."""
        xb = self.axis.x(begin) - self.x0
        xe = self.axis.x(end) - self.x0
        first = math.floor(xb)
        last = max(first, math.ceil(xe) - 1)
        self._fill(first, last, role)

    def mark(self, ts: float, role: str) -> None:
        """Paint the one cell holding `ts`."""
        c = math.floor(self.axis.x(ts) - self.x0)
        self._fill(c, c, role)

    def _fill(self, first: int, last: int, role: str) -> None:
        first = max(first, 0)
        last = min(last, self.width - 1)
        rank = _RANK[role]
        roles = self.roles
        for c in range(first, last + 1):
            if _RANK[roles[c]] < rank:
                roles[c] = role

    def bands(self) -> None:
        """The freeze band across the row: every frozen stretch in view."""
        ax = self.axis
        lo, hi = ax.t(self.x0), ax.t(self.x0 + self.width)
        # Only the freezes in view: a trace may have thousands.
        k = max(bisect_right(ax.starts, lo) - 1, 0)
        while k < len(ax.starts) and ax.starts[k] <= hi:
            if ax.ends[k] >= lo:
                self.span(ax.starts[k], ax.ends[k], "band")
            k += 1

    def runs(self) -> list[Run]:
        """Consecutive equal roles merged into (text, role) runs."""
        out: list[Run] = []
        roles = self.roles
        i, n = 0, len(roles)
        while i < n:
            role = roles[i]
            j = i + 1
            while j < n and roles[j] == role:
                j += 1
            out.append((GLYPH[role] * (j - i), role))
            i = j
        return out


def work_cells(
    trace: Trace,
    w: Work,
    axis: TimeAxis,
    x0: int,
    width: int,
    *,
    leak_from: int | None = None,
    segments: list[tuple[int, int, str]] | None = None,
) -> list[Run]:
    """A work's row: waiting `─` (`┄` once it outlived its invocation), frozen `▒`, running `█`.

    `leak_from`: when the invocation that created it froze; waiting after that is drawn as leaked.
    The freeze band `░` runs through the whole row; the end is marked when it failed, was
    cancelled or was lost. `segments`: `w.segments(...)` if the caller keeps them.
    """
    if segments is None:
        segments = list(w.segments(trace.freezes, trace.end_ns))
    cells = Cells(axis, x0, width)
    cells.bands()
    lo, hi = axis.t(x0), axis.t(x0 + width)
    for b, e, state in segments:
        if e < lo or b > hi:
            continue
        if state == "waiting" and leak_from is not None and e > leak_from:
            if b < leak_from:
                cells.span(b, leak_from, "wait")
            cells.span(max(b, leak_from), e, "leak")
        else:
            cells.span(b, e, {"running": "run", "waiting": "wait", "frozen": "frozen"}[state])
    if w.status == "error":
        cells.mark(w.end_of_life(trace.end_ns), "error")
    elif w.status == "cancelled":
        cells.mark(w.end_of_life(trace.end_ns), "cancelled")
    elif w.status is None and w.lost_ns is not None:
        cells.mark(w.lost_ns, "lost")
    return cells.runs()


def leak_start(trace: Trace, w: Work) -> int | None:
    """When the invocation that created `w` froze (waiting after it is leaked waiting)."""
    if w.created_in is None or w.created_in <= 0:
        return None
    try:
        return trace.invocation(w.created_in).freeze_ns
    except KeyError:
        return None


def invocation_cells(
    trace: Trace, inv: Invocation, axis: TimeAxis, x0: int, width: int
) -> list[Run]:
    """An invocation header row: `┃` start, `━` running, held `━`, `▼` response, `❄` freeze."""
    cells = Cells(axis, x0, width)
    cells.bands()
    end = inv.freeze_ns or inv.last_ns or inv.end_ns or trace.end_ns
    cells.span(inv.start_ns, end, "inv")
    if inv.respond_call_ns is not None and inv.respond_post_ns is not None and inv.held_ns > 0:
        cells.span(inv.respond_call_ns, inv.respond_post_ns, "held")
    cells.mark(inv.start_ns, "start")
    if inv.outcome in ("error", "timeout", "crash") and inv.end_ns is not None:
        cells.mark(inv.end_ns, "error")
    if inv.respond_post_ns is not None:
        cells.mark(inv.respond_post_ns, "post")
    if inv.freeze_ns is not None:
        cells.mark(inv.freeze_ns, "freeze")
    return cells.runs()


def init_cells(trace: Trace, env: int | None, axis: TimeAxis, x0: int, width: int) -> list[Run]:
    """An INIT header row: the environment's INIT phase as `━`."""
    cells = Cells(axis, x0, width)
    cells.bands()
    for e in trace.envs:
        if e.env == env:
            cells.mark(e.init_start_ns, "start")
            cells.span(e.init_start_ns, e.init_end_ns or e.init_start_ns, "inv")
            if e.init_ok is False:
                cells.mark(e.init_end_ns or e.init_start_ns, "error")
    return cells.runs()


def invocations_in_view(
    trace: Trace, starts: list[int], axis: TimeAxis, x0: int, width: int
) -> list[Invocation]:
    """Invocations that may show between columns x0 and x0 + width (`starts`: their start_ns)."""
    lo, hi = axis.t(x0), axis.t(x0 + width)
    first = max(bisect_right(starts, lo) - 1, 0)
    last = bisect_right(starts, hi)
    return trace.invocations[first:last]


def ruler(
    trace: Trace,
    axis: TimeAxis,
    x0: int,
    width: int,
    invocations: list[Invocation] | None = None,
) -> tuple[list[Run], list[Run]]:
    """Two ruler lines: invocation labels and times on top; boundaries, `▼`, `❄`, bands below.

    `invocations`: the ones in view (`invocations_in_view`), when the trace has many.
    """
    if invocations is None:
        invocations = trace.invocations
    cells = Cells(axis, x0, width)
    cells.bands()
    for inv in invocations:
        cells.mark(inv.start_ns, "start")
        if inv.respond_post_ns is not None:
            cells.mark(inv.respond_post_ns, "post")
        if inv.freeze_ns is not None:
            cells.mark(inv.freeze_ns, "freeze")
    marks = cells.runs()
    # Labels: invocation numbers where they start, times in the gaps (first come, first placed).
    chars = [" "] * width
    roles = ["tick"] * width

    def place(col: int, text: str, role: str) -> bool:
        if col < 0 or col + len(text) > width:
            return False
        if any(c != " " for c in chars[max(col - 1, 0) : min(col + len(text) + 1, width)]):
            return False
        for i, ch in enumerate(text):
            chars[col + i] = ch
            roles[col + i] = role
        return True

    for inv in invocations:
        place(math.floor(axis.x(inv.start_ns)) - x0, f"#{inv.index}", "label")
    step = 16
    previous = ""
    for col in range(0, width, step):
        ts = axis.t(x0 + col)
        label = "+" + format_ns(ts - axis.start).replace(" ", "")
        if axis.start <= ts <= axis.end and label != previous and place(col, label, "tick"):
            previous = label
    labels: list[Run] = []
    i = 0
    while i < width:
        j = i + 1
        while j < width and roles[j] == roles[i]:
            j += 1
        labels.append(("".join(chars[i:j]), roles[i]))
        i = j
    return labels, marks
