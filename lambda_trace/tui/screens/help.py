"""The help screen: every key, grouped by area, with what it does."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from ..keys import (
    APP_BINDINGS,
    DIFF_BINDINGS,
    GALLERY_BINDINGS,
    LIST_HELP,
    MAIN_BINDINGS,
    area,
)


class HelpScreen(ModalScreen[None]):
    """Keys of the viewer; any of escape, q or ? closes it."""

    BINDINGS = [
        Binding(
            "escape,q,question_mark",
            "app.pop_screen",
            "Close",
            id="help.close",
            tooltip="Close help",
        ),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body") as body:
            body.border_title = "Keys"
            body.border_subtitle = "escape to close"
            yield Static(self.keys_text(), id="help-text")

    def keys_text(self) -> Text:
        text = Text()
        groups: dict[str, list[tuple[str, str]]] = {}
        # Every screen's keys, grouped by area (timeline, replay, diff, gallery, app).
        for b in (*MAIN_BINDINGS, *DIFF_BINDINGS, *GALLERY_BINDINGS, *APP_BINDINGS):
            keys = " / ".join(self._key(k) for k in b.key.split(","))
            groups.setdefault(area(b), []).append((keys, b.tooltip or b.description))
        first = True
        for name, rows in groups.items():
            if not first:
                text.append("\n")
            first = False
            text.append(f"{name}\n", "bold underline")
            for keys, what in rows:
                text.append(f"  {keys:<18}", "bold cyan")
                text.append(f"{what}\n")
        text.append("\nlists\n", "bold underline")
        for keys, what in LIST_HELP:
            text.append(f"  {keys:<22}", "bold cyan")
            text.append(f"{what.split(': ', 1)[1]}\n")
        text.rstrip()
        return text

    def _key(self, key: str) -> str:
        return self.app.get_key_display(Binding(key, ""))
