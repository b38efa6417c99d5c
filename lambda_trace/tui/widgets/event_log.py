"""The event log of replay: every event, decoded from the file only when its line is drawn."""

from __future__ import annotations

from textual.strip import Strip

from ...model.trace import Trace
from ..describe import event_line
from .line_list import LineList, text_strip


class EventLog(LineList):
    """All events in file order; the cursor is the replay playhead."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.trace: Trace | None = None

    def set_trace(self, trace: Trace) -> None:
        self.trace = trace
        self.set_count(len(trace.events))

    def render_item(self, index: int, width: int) -> Strip:
        assert self.trace is not None
        text = event_line(self.trace, index, self.trace.events.event(index))
        return text_strip(text, width, self.rich_style, self.app.console)
