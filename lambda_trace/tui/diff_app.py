"""The application `lambda-trace diff` opens on a terminal: the diff screen alone."""

from __future__ import annotations

from typing import ClassVar

from textual.app import App
from textual.binding import BindingType

from ..model.diff import Diff
from .commands import ViewerCommands
from .keys import APP_BINDINGS
from .screens.diff import DiffScreen
from .screens.help import HelpScreen


class DiffViewer(App[None]):
    """Shows a computed diff; `q` or `escape` quits."""

    CSS_PATH = "app.tcss"
    TITLE = "lambda-trace diff"
    BINDINGS: ClassVar[list[BindingType]] = list(APP_BINDINGS)
    COMMANDS = App.COMMANDS | {ViewerCommands}

    def __init__(self, diff: Diff) -> None:
        super().__init__()
        self.diff = diff

    def on_mount(self) -> None:
        self.push_screen(DiffScreen(self.diff))

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())
