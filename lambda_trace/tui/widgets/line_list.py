"""A cursor list on the Line API: only visible lines render, each from a cache of strips.

Subclasses say how many items there are and how one item looks (`render_item`); this class owns
the cursor, scrolling, mouse selection, fixed header lines and the strip cache.
"""

from __future__ import annotations

from collections.abc import Hashable

from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.cache import LRUCache
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ..describe import literal

__all__ = ["LineList", "literal", "overlay", "text_strip"]


def text_strip(text: Text, width: int, style: Style, console: Console) -> Strip:
    """A Rich `Text` (never markup) as a strip of exactly `width` cells."""
    text.no_wrap = True
    return Strip(list(text.render(console))).apply_style(style).crop_extend(0, width, style)


def overlay(strip: Strip, style: Style) -> Strip:
    """`style` laid over every segment (its background wins over theirs)."""
    return Strip(Segment.apply_style(list(strip), post_style=style), strip.cell_length)


class LineList(ScrollView, can_focus=True):
    """Items drawn one line each, with a cursor; `header_lines` stay on top when scrolling."""

    COMPONENT_CLASSES = {"line-list--cursor", "line-list--header"}
    DEFAULT_CSS = """
    LineList { background: $surface; }
    LineList > .line-list--cursor { background: $accent 35%; }
    LineList:focus > .line-list--cursor { background: $accent 60%; text-style: bold; }
    LineList > .line-list--header { color: $text-muted; text-style: bold; }
    """
    BINDINGS = [
        Binding("down,j", "cursor_down", "Down", show=False, id="list.down"),
        Binding("up,k", "cursor_up", "Up", show=False, id="list.up"),
        Binding("pagedown,ctrl+f", "page_down", "Page down", show=False, id="list.page_down"),
        Binding("pageup,ctrl+b", "page_up", "Page up", show=False, id="list.page_up"),
        Binding("home,g", "first", "First", show=False, id="list.first"),
        Binding("end,G", "last", "Last", show=False, id="list.last"),
        Binding("enter", "choose", "Choose", show=False, id="list.choose"),
    ]

    cursor: reactive[int] = reactive(0, init=False, always_update=False)
    """Index of the highlighted item."""

    header_lines = 0

    class Highlighted(Message):
        """The cursor moved to `index`."""

        def __init__(self, source: LineList, index: int) -> None:
            super().__init__()
            self.source = source
            self.index = index

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, LineList.Highlighted) and message.source is self.source

        @property
        def control(self) -> LineList:
            return self.source

    class Chosen(Message):
        """Enter (or a second click) on item `index`."""

        def __init__(self, source: LineList, index: int) -> None:
            super().__init__()
            self.source = source
            self.index = index

        @property
        def control(self) -> LineList:
            return self.source

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._count = 0
        self._cache: LRUCache[Hashable, Strip] = LRUCache(2048)

    # -- subclass API ----------------------------------------------------------------------------

    def render_item(self, index: int, width: int) -> Strip:
        """One item, uncropped; the cursor style is laid over it afterwards."""
        raise NotImplementedError

    def render_header(self, y: int, width: int) -> Strip:
        """Header line `y` (0 <= y < header_lines)."""
        return Strip.blank(width, self.rich_style)

    def item_key(self) -> Hashable:
        """What else, besides index and width, an item's strip depends on."""
        return None

    # -- state -----------------------------------------------------------------------------------

    @property
    def count(self) -> int:
        return self._count

    def set_count(self, count: int) -> None:
        """Replace the items (their number); drops every cached strip."""
        self._count = count
        self._cache.clear()
        self.virtual_size = Size(0, count + self.header_lines)
        if self.cursor >= count:
            self.set_reactive(LineList.cursor, max(count - 1, 0))
        self.refresh()

    def clear_cache(self) -> None:
        self._cache.clear()
        self.refresh()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._cache.clear()

    # -- rendering -------------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        if y < self.header_lines:
            return self.render_header(y, width).crop_extend(0, width, self.rich_style)
        index = self.scroll_offset.y + y - self.header_lines
        if index < 0 or index >= self._count:
            return Strip.blank(width, self.rich_style)
        key = (index, width, index == self.cursor, self.item_key())
        strip = self._cache.get(key)
        if strip is None:
            strip = self.render_item(index, width).crop_extend(0, width, self.rich_style)
            if index == self.cursor:
                strip = overlay(strip, self.get_component_rich_style("line-list--cursor"))
            self._cache[key] = strip
        return self.decorate(index, y, strip)

    def decorate(self, index: int, y: int, strip: Strip) -> Strip:
        """Overlay drawn after the cache (e.g. the replay playhead)."""
        return strip

    def refresh_item(self, index: int) -> None:
        """Repaint one item's line, if visible."""
        y = index - self.scroll_offset.y + self.header_lines
        if self.header_lines <= y < self.size.height:
            self.refresh(Region(0, y, self.size.width, 1))

    # -- cursor ----------------------------------------------------------------------------------

    def watch_cursor(self, old: int, new: int) -> None:
        self.refresh_item(old)
        self.refresh_item(new)
        self.scroll_to_item(new)
        self.post_message(self.Highlighted(self, new))

    def scroll_to_item(self, index: int) -> None:
        """Scroll the least needed to show `index`."""
        height = self.scrollable_content_region.height
        if not height:  # not laid out yet
            self.call_after_refresh(self.scroll_to_item, index)
            return
        rows = max(height - self.header_lines, 1)
        top = self.scroll_offset.y
        if index < top:
            self.scroll_to(y=index, animate=False, force=True)
        elif index >= top + rows:
            self.scroll_to(y=index - rows + 1, animate=False, force=True)

    def move_to(self, index: int) -> None:
        """Put the cursor on `index` (clamped)."""
        if self._count:
            self.cursor = max(0, min(index, self._count - 1))

    def action_cursor_down(self) -> None:
        self.move_to(self.cursor + 1)

    def action_cursor_up(self) -> None:
        self.move_to(self.cursor - 1)

    def action_page_down(self) -> None:
        self.move_to(self.cursor + max(self.size.height - self.header_lines - 1, 1))

    def action_page_up(self) -> None:
        self.move_to(self.cursor - max(self.size.height - self.header_lines - 1, 1))

    def action_first(self) -> None:
        self.move_to(0)

    def action_last(self) -> None:
        self.move_to(self._count - 1)

    def action_choose(self) -> None:
        if self._count:
            self.post_message(self.Chosen(self, self.cursor))

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        y = offset.y
        if y < self.header_lines:
            return
        index = self.scroll_offset.y + y - self.header_lines
        if 0 <= index < self._count:
            again = index == self.cursor and event.chain > 1
            self.move_to(index)
            if again:
                self.post_message(self.Chosen(self, index))
