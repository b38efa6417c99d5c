"""The `lambda-trace view` application: opens the main screen on one trace file."""

from __future__ import annotations

from typing import Any, ClassVar

from textual.app import App
from textual.binding import BindingType

from .commands import ViewerCommands
from .keys import APP_BINDINGS
from .screens.help import HelpScreen
from .screens.main import MainScreen


class TraceViewer(App[None]):
    """Shows one trace: what ran when, what leaked between invocations, and why."""

    CSS_PATH = "app.tcss"
    TITLE = "lambda-trace"
    BINDINGS: ClassVar[list[BindingType]] = list(APP_BINDINGS)
    COMMANDS = App.COMMANDS | {ViewerCommands}

    def __init__(
        self, path: str, *, header: dict[str, Any] | None = None, invocation: int | None = None
    ) -> None:
        super().__init__()
        self.path = path
        self.header = header
        self.invocation = invocation

    def on_mount(self) -> None:
        self.push_screen(MainScreen(self.path, self.header, self.invocation))

    @property
    def main(self) -> MainScreen:
        """The main screen (under any other screen that is open)."""
        return next(s for s in self.screen_stack if isinstance(s, MainScreen))

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())
