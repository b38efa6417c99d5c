"""The viewer application: the main screen on one trace file (`view`), or the scenario gallery
(`demo`) from which traces open."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from textual.app import App
from textual.binding import BindingType

from .commands import ViewerCommands
from .keys import APP_BINDINGS
from .screens.gallery import GalleryEntry, GalleryScreen
from .screens.help import HelpScreen
from .screens.main import MainScreen


class TraceViewer(App[None]):
    """Shows one trace: what ran when, what leaked between invocations, and why."""

    CSS_PATH = "app.tcss"
    TITLE = "lambda-trace"
    BINDINGS: ClassVar[list[BindingType]] = list(APP_BINDINGS)
    COMMANDS = App.COMMANDS | {ViewerCommands}

    def __init__(
        self,
        path: str = "",
        *,
        header: dict[str, Any] | None = None,
        invocation: int | None = None,
        gallery: Sequence[GalleryEntry] | None = None,
        gallery_source: str = "",
    ) -> None:
        super().__init__()
        self.path = path
        self.header = header
        self.invocation = invocation
        self.gallery = gallery
        """Scenarios to list first instead of opening `path` (`lambda-trace demo`)."""
        self.gallery_source = gallery_source

    def on_mount(self) -> None:
        if self.gallery is not None:
            self.push_screen(GalleryScreen(self.gallery, source=self.gallery_source))
        else:
            self.push_screen(MainScreen(self.path, self.header, self.invocation))

    @property
    def main(self) -> MainScreen:
        """The main screen (under any other screen that is open)."""
        return next(s for s in self.screen_stack if isinstance(s, MainScreen))

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())
