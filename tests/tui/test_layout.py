"""The timeline's rows and cells, without an app: what a row looks like at a given zoom."""

from __future__ import annotations

from lambda_trace.model.trace import Trace
from lambda_trace.tui.layout import (
    FREEZE_COLS,
    TimeAxis,
    build_rows,
    invocation_cells,
    leak_start,
    ruler,
    work_cells,
    work_title,
)

US10 = 10_000.0  # 10 µs per column


def axis(trace: Trace, ns_per_col: float = US10, compress: bool = True) -> TimeAxis:
    freezes = [(f, t) for f, t, _ in trace.freezes]
    return TimeAxis(trace.start_ns, trace.end_ns, freezes, ns_per_col, compress=compress)


def text(runs: list[tuple[str, str]]) -> str:
    return "".join(t for t, _ in runs)


def roles(runs: list[tuple[str, str]]) -> list[str]:
    return [role for t, role in runs for _ in t]


def test_rows_group_works_under_the_invocation_that_created_them(leaky: Trace) -> None:
    rows = build_rows(leaky)
    groups = [r.group for r in rows if r.kind == "group"]
    assert groups == [1, 2, 3]
    # Each invocation: its header, the handler, then the work the handler created, nested.
    first = rows[:5]
    assert [(r.kind, r.work, r.depth) for r in first] == [
        ("group", None, 0), ("work", 1, 0), ("work", 2, 1), ("work", 3, 1), ("work", 4, 1),
    ]  # fmt: skip
    assert sorted(r.work for r in rows if r.work is not None) == list(range(1, 13))


def test_freezes_are_squeezed_to_a_few_columns(leaky: Trace) -> None:
    ax = axis(leaky)
    assert ax.x(30_000) == 3  # the first freeze starts after 30 µs
    assert ax.x(1_000_030_000) == 3 + FREEZE_COLS  # and its second takes FREEZE_COLS columns
    assert ax.x(1_000_040_000) == 7
    for ts in (0, 15_000, 500_000_000, 1_000_035_000, 2_000_100_000):
        assert abs(ax.t(ax.x(ts)) - ts) < 1e-3
    to_scale = axis(leaky, compress=False)
    assert to_scale.x(1_000_030_000) == 100_003


def test_leaked_task_row_at_10_us_per_column(leaky: Trace) -> None:
    write = leaky.work(2)
    runs = work_cells(leaky, write, axis(leaky), 0, 12, leak_from=leak_start(leaky, write))
    # waiting, a step, waiting, frozen through the freeze, waiting as a leak after the thaw,
    # its second step (in invocation 2), then gone.
    assert text(runs) == "─█─▒▒▒┄█    "
    assert roles(runs)[:8] == ["wait", "run", "wait", "frozen", "frozen", "frozen", "leak", "run"]


def test_row_outside_its_life_still_shows_the_freeze_band(leaky: Trace) -> None:
    later = leaky.work(6)  # created in invocation 2: nothing before, only the band
    assert text(work_cells(leaky, later, axis(leaky), 0, 8)) == "   ░░░  "


def test_lost_work_is_marked_where_the_trace_ends(leaky: Trace) -> None:
    lost = leaky.work(12)  # the timer of invocation 3, pending when the recording ended
    ax = axis(leaky)
    x_end = int(ax.x(leaky.end_ns))
    runs = work_cells(leaky, lost, ax, x_end - 3, 4, leak_from=leak_start(leaky, lost))
    assert text(runs) == "───…"
    assert roles(runs)[-1] == "lost"


def test_invocation_row_marks_start_response_and_freeze(leaky: Trace) -> None:
    runs = invocation_cells(leaky, leaky.invocation(1), axis(leaky), 0, 8)
    # Responded at 0 (▼ wins over the start), ran to the freeze at 30 µs (❄), then the band.
    assert text(runs) == "▼━━❄░░  "
    second = invocation_cells(leaky, leaky.invocation(2), axis(leaky), 5, 6)
    assert text(second) == "░┃━━▼━"  # its handler answered 30 µs after the thaw


def test_zooming_out_puts_more_time_in_a_cell(leaky: Trace) -> None:
    write = leaky.work(2)
    wide = text(work_cells(leaky, write, axis(leaky, US10 / 2), 0, 12))
    narrow = text(work_cells(leaky, write, axis(leaky, US10 * 2), 0, 12))
    assert wide.startswith("──██──▒▒▒")  # 5 µs a column: each 10 µs piece is two cells
    assert narrow.startswith("█▒▒▒▒█")  # 20 µs a column: running, frozen win shared cells


def test_fit_shows_the_whole_trace(leaky: Trace) -> None:
    freezes = [(f, t) for f, t, _ in leaky.freezes]
    npc = TimeAxis.fit_ns_per_col(leaky.start_ns, leaky.end_ns, freezes, 60)
    ax = TimeAxis(leaky.start_ns, leaky.end_ns, freezes, npc)
    assert 50 <= ax.total_cols <= 60


def test_ruler_labels_invocations_and_marks_freezes(leaky: Trace) -> None:
    labels, marks = ruler(leaky, axis(leaky), 0, 16)
    assert text(labels).startswith("#1")
    assert "#2" in text(labels)
    assert text(marks)[3] == "❄" and text(marks)[6] == "┃"


def test_titles_keep_names_as_written(leaky: Trace) -> None:
    assert work_title(leaky.work(4)) == "timer [bold red]x[/] #4"
    assert work_title(leaky.work(1)) == "handler #1"
