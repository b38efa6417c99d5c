"""The command palette provider: every key's action by its "area: verb" title."""

from __future__ import annotations

from functools import partial

from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider

from .keys import APP_BINDINGS, DIFF_BINDINGS, GALLERY_BINDINGS, MAIN_BINDINGS, command_title
from .screens.diff import DiffScreen
from .screens.gallery import ScenarioScreen
from .screens.main import MainScreen


class ViewerCommands(Provider):
    """Commands of the screen in front and of the app, available ones only."""

    def _commands(self) -> list[tuple[str, Binding]]:
        screen = self.screen
        out: list[tuple[str, Binding]] = []
        bindings: tuple[Binding, ...] = tuple(APP_BINDINGS)
        if isinstance(screen, MainScreen):
            bindings = (*MAIN_BINDINGS, *bindings)
        if isinstance(screen, ScenarioScreen):
            bindings = (*GALLERY_BINDINGS, *bindings)
        if isinstance(screen, DiffScreen):
            bindings = (*DIFF_BINDINGS, *bindings)
        for b in bindings:
            action, _, _ = b.action.partition("(")
            if action.startswith("app."):
                if self.app.check_action(action.removeprefix("app."), ()) is False:
                    continue
            elif screen.check_action(action, ()) is not True:
                continue
            out.append((command_title(b), b))
        return out

    async def _run(self, binding: Binding) -> None:
        if binding.action.startswith("app."):
            await self.app.run_action(binding.action)
        else:
            await self.screen.run_action(binding.action)

    async def discover(self) -> Hits:
        for title, b in self._commands():
            yield DiscoveryHit(title, partial(self._run, b), help=b.tooltip)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, b in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), partial(self._run, b), help=b.tooltip)
