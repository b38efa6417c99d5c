"""The trace model: schema, file I/O, analysis. Plain Python; never imports Textual."""

from .events import SCHEMA_VERSION, Event, json_schema, parse_event
from .load import load_trace
from .reader import Diagnostic, TraceFormatError, TraceReader, read_events
from .report import REPORT_SCHEMA, build_report, render_text
from .trace import CATEGORIES, EventColumns, Finding, Invocation, Trace
from .works import Work
from .writer import TraceWriter

__all__ = [
    "CATEGORIES",
    "REPORT_SCHEMA",
    "SCHEMA_VERSION",
    "Diagnostic",
    "Event",
    "EventColumns",
    "Finding",
    "Invocation",
    "Trace",
    "TraceFormatError",
    "TraceReader",
    "TraceWriter",
    "Work",
    "build_report",
    "json_schema",
    "load_trace",
    "parse_event",
    "read_events",
    "render_text",
]
