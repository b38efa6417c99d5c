"""Every key of the viewer, declared once: the screens bind them, help lists them, the palette runs them.

A binding's id is `area.verb`; the area and the description make the palette title
("timeline: zoom in"), so a key and its command never disagree.
"""

from __future__ import annotations

from textual.binding import Binding

APP_BINDINGS = [
    Binding("q", "app.quit", "Quit", id="app.quit", tooltip="Leave the viewer"),
    Binding(
        "question_mark", "app.help", "Help", id="app.help", tooltip="Every key and what it does"
    ),
]

MAIN_BINDINGS = [
    Binding("L", "leaks", "Leaks", id="leaks.open", tooltip="All findings, grouped by category"),
    Binding("D", "diagnostics", "Diagnostics", id="diagnostics.open", tooltip="Lines skipped while loading"),
    Binding("r", "replay", "Replay", id="replay.toggle", tooltip="Show or hide the replay panel"),
    Binding("plus,equals_sign", "zoom(0.5)", "Zoom in", id="timeline.zoom_in", tooltip="Half the time per column"),
    Binding("minus", "zoom(2)", "Zoom out", id="timeline.zoom_out", tooltip="Twice the time per column"),
    Binding("f,0", "fit", "Fit", id="timeline.fit", tooltip="The whole trace in view"),
    Binding("h,left", "pan(-1)", "Pan left", show=False, id="timeline.pan_left", tooltip="Back in time"),
    Binding("l,right", "pan(1)", "Pan right", show=False, id="timeline.pan_right", tooltip="Forward in time"),
    Binding("left_square_bracket", "invocation(-1)", "Prev inv", id="timeline.previous_invocation", tooltip="Jump to the previous invocation"),
    Binding("right_square_bracket", "invocation(1)", "Next inv", id="timeline.next_invocation", tooltip="Jump to the next invocation"),
    Binding("z", "compress", "Freezes", show=False, id="timeline.toggle_freezes", tooltip="Squeeze freezes to a few columns or draw them to scale"),
    Binding("space", "play", "Play/pause", id="replay.play", tooltip="Play or pause the replay"),
    Binding("full_stop", "step(1)", "Step", id="replay.step_forward", tooltip="One event forward"),
    Binding("comma", "step(-1)", "Back", id="replay.step_back", tooltip="One event back"),
    Binding("greater_than_sign", "speed(1)", "Faster", id="replay.faster", tooltip="More events per second"),
    Binding("less_than_sign", "speed(-1)", "Slower", id="replay.slower", tooltip="Fewer events per second"),
    Binding("n", "freeze_jump(1)", "Next freeze", id="replay.next_freeze", tooltip="Next freeze or thaw"),
    Binding("N", "freeze_jump(-1)", "Prev freeze", id="replay.previous_freeze", tooltip="Previous freeze or thaw"),
    Binding("escape", "close_replay", "Close replay", show=False, id="replay.close", tooltip="Leave replay"),
    Binding("m", "mark", "Mark", show=False, id="diff.mark", tooltip="Mark the highlighted invocation for a diff (two at most)"),
    Binding("d", "diff", "Diff", show=False, id="diff.open", tooltip="Diff the two marked invocations (or the marked one and the highlighted one)"),
]  # fmt: skip

DIFF_BINDINGS = [
    Binding("n", "difference(1)", "Next diff", id="diff.next", tooltip="Next row that differs"),
    Binding("p", "difference(-1)", "Prev diff", id="diff.previous", tooltip="Previous row that differs"),
    Binding("right_square_bracket", "pair(1)", "Next pair", id="diff.next_pair", tooltip="Next pair of invocations"),
    Binding("left_square_bracket", "pair(-1)", "Prev pair", id="diff.previous_pair", tooltip="Previous pair of invocations"),
    Binding("escape", "close", "Back", id="diff.close", tooltip="Leave the diff"),
]  # fmt: skip

GALLERY_BINDINGS = [
    Binding(
        "escape,q",
        "back",
        "Gallery",
        id="gallery.back",
        tooltip="Close replay, else back to the scenario gallery",
    ),
]
"""Keys of a trace opened from the gallery (`lambda-trace demo`)."""

REPLAY_ONLY = {"step", "speed", "freeze_jump", "close_replay"}
"""Main-screen actions shown and enabled only while replaying."""

LIST_HELP = [
    ("j / ↓, k / ↑", "list: move the cursor"),
    ("g / home, G / end", "list: first, last"),
    ("pgup / pgdn", "list: a page up or down"),
    ("enter / double click", "list: choose (zoom to an invocation, jump to a finding)"),
    ("tab / shift+tab", "focus: next or previous pane"),
    ("ctrl+p", "palette: every command by name"),
]
"""Keys of every list, for the help screen (their bindings live on `LineList`)."""


def area(binding: Binding) -> str:
    """`timeline` of `timeline.zoom_in`."""
    return (binding.id or "app").split(".", 1)[0]


def command_title(binding: Binding) -> str:
    """The palette title from the id: `timeline.zoom_in` -> "timeline: zoom in"."""
    name, _, verb = (binding.id or "app.run").partition(".")
    return f"{name}: {verb.replace('_', ' ')}"


SPEEDS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)
"""Replay speeds, events per second, that `>`/`<` step through."""
