"""The trace model: schema, file I/O, analysis. Plain Python; never imports Textual."""

from .events import SCHEMA_VERSION, Event, json_schema, parse_event
from .reader import Diagnostic, TraceFormatError, TraceReader, read_events
from .writer import TraceWriter

__all__ = [
    "SCHEMA_VERSION",
    "Diagnostic",
    "Event",
    "TraceFormatError",
    "TraceReader",
    "TraceWriter",
    "json_schema",
    "parse_event",
    "read_events",
]
