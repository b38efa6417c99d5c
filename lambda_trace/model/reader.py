"""Streaming trace reader for `.jsonl` and `.jsonl.gz`: tolerant by default, strict on request.

Tolerant mode skips malformed lines and keeps a `Diagnostic` for each; strict mode raises the first
problem as one `TraceFormatError`. Only the header is fatal in both: a file whose first line is not a
version-1 `trace.start` is not a trace we can read.
"""

from __future__ import annotations

import gzip
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

import orjson

from .check import check_event, is_known_kind
from .events import SCHEMA_VERSION
from .fastcheck import fast_accepts

MAX_LINE = 8 * 1024 * 1024
"""Longest line read; longer ones are skipped without being held in memory whole."""
MAX_KEPT_DIAGNOSTICS = 1000
"""Diagnostics kept in memory; beyond this only `diagnostic_count` grows."""
_CHUNK = 1024 * 1024
_GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem found while reading; `line` is 1-based (0: the file as a whole)."""

    path: str
    line: int
    offset: int
    reason: str
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        prefix = "warning: " if self.severity == "warning" else ""
        return f"{where}: {prefix}{self.reason}"


class TraceFormatError(Exception):
    """A trace cannot be read (or, in strict mode, has a problem). `str()` is one line."""

    def __init__(self, path: str | os.PathLike[str], line: int, reason: str) -> None:
        self.path = str(path)
        self.line = line
        self.reason = reason
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.reason}"


@dataclass(frozen=True, slots=True)
class RawLine:
    number: int
    offset: int
    data: bytes | None
    """None when the line was too long to hold."""
    length: int
    complete: bool
    """False for a last line with no newline."""


def open_trace_bytes(path: str | os.PathLike[str]) -> IO[bytes]:
    """Open a trace for binary reading, decompressing gzip by its magic bytes, not its name."""
    p = Path(path)
    try:
        if p.is_dir():
            raise TraceFormatError(p, 0, "is a directory, not a trace file")
        raw = open(p, "rb")  # noqa: SIM115 - returned to the caller
    except FileNotFoundError:
        raise TraceFormatError(p, 0, "no such file") from None
    except PermissionError:
        raise TraceFormatError(p, 0, "permission denied") from None
    except OSError as exc:
        raise TraceFormatError(p, 0, f"cannot open: {exc.strerror or exc}") from None
    try:
        magic = raw.peek(2)[:2] if hasattr(raw, "peek") else b""
    except OSError as exc:
        raw.close()
        raise TraceFormatError(p, 0, f"cannot read: {exc.strerror or exc}") from None
    if magic == _GZIP_MAGIC:
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    return raw


def iter_raw_lines(stream: IO[bytes], max_line: int = MAX_LINE) -> Iterator[RawLine]:
    """Yield every line with its number and byte offset (of the uncompressed stream)."""
    number = 0
    offset = 0
    readline = stream.readline
    while True:
        data = readline(max_line + 1)
        if not data:
            return
        number += 1
        length = len(data)
        if length > max_line and not data.endswith(b"\n"):
            # Too long: skip to the end of the line without holding it.
            while True:
                rest = readline(_CHUNK)
                length += len(rest)
                if not rest or rest.endswith(b"\n"):
                    break
            complete = True
            yield RawLine(number, offset, None, length, complete)
        else:
            complete = data.endswith(b"\n")
            yield RawLine(number, offset, data, length, complete)
        offset += length


class TraceReader:
    """Reads one trace file. The header is read at construction; iterate for the events."""

    def __init__(
        self, path: str | os.PathLike[str], *, strict: bool = False, max_line: int = MAX_LINE
    ) -> None:
        self.path = str(path)
        self.strict = strict
        self.max_line = max_line
        self.diagnostics: list[Diagnostic] = []
        self.diagnostic_count = 0
        self.error_count = 0
        self.lines_read = 0
        self.truncated = False
        """True when the trace ends mid-line or its compressed stream ends early."""
        self._stream = open_trace_bytes(path)
        self._lines = iter_raw_lines(self._stream, max_line)
        try:
            self.header = self._read_header()
        except BaseException:
            self.close()
            raise

    def _read_header(self) -> dict[str, Any]:
        try:
            first = next(self._lines, None)
        except (OSError, EOFError, zlib.error) as exc:
            raise TraceFormatError(self.path, 0, f"cannot decompress: {_why(exc)}") from None
        if first is None:
            raise TraceFormatError(self.path, 0, "empty file, not a lambda-trace trace")
        self.lines_read = 1
        if first.data is None:
            raise TraceFormatError(self.path, 1, "not a lambda-trace trace (first line too long)")
        try:
            obj = orjson.loads(first.data)
        except orjson.JSONDecodeError:
            raise TraceFormatError(
                self.path, 1, "not a lambda-trace trace (first line is not JSON)"
            ) from None
        if type(obj) is not dict or obj.get("kind") != "trace.start":
            raise TraceFormatError(
                self.path, 1, "missing trace.start header: not a lambda-trace trace"
            )
        version = obj.get("version")
        if version != SCHEMA_VERSION or type(version) is not int:
            raise TraceFormatError(
                self.path,
                1,
                f"unsupported trace format version {version!r} "
                f"(this lambda-trace reads version {SCHEMA_VERSION})",
            )
        problem = check_event(obj)
        if problem is not None:
            raise TraceFormatError(self.path, 1, f"invalid trace.start header: {problem}")
        if not first.complete:
            self._report(first.number, first.offset, "trace ends after the header (no newline)")
        return obj

    def _report(
        self, line: int, offset: int, reason: str, severity: Literal["error", "warning"] = "error"
    ) -> None:
        if severity == "error":
            self.error_count += 1
            if self.strict:
                raise TraceFormatError(self.path, line, reason)
        self.diagnostic_count += 1
        if len(self.diagnostics) < MAX_KEPT_DIAGNOSTICS:
            self.diagnostics.append(Diagnostic(self.path, line, offset, reason, severity))

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for _line, _offset, event in self.iter_with_lines():
            yield event

    def iter_with_lines(self) -> Iterator[tuple[int, int, dict[str, Any]]]:
        """Yield (line number, byte offset, event) for every valid event after the header."""
        last_seq = self.header["seq"]
        last_ts = self.header["ts"]
        lines = self._lines
        while True:
            try:
                raw = next(lines, None)
            except (OSError, EOFError, zlib.error) as exc:
                self.truncated = True
                self._report(
                    self.lines_read + 1,
                    0,
                    f"compressed stream ends early or is corrupt: {_why(exc)}",
                )
                return
            if raw is None:
                return
            self.lines_read = raw.number
            if raw.data is None:
                self._report(
                    raw.number,
                    raw.offset,
                    f"line is {raw.length:,} bytes, over the {self.max_line:,}-byte limit; skipped",
                )
                continue
            try:
                obj = orjson.loads(raw.data)
            except orjson.JSONDecodeError as exc:
                if not raw.complete:
                    self.truncated = True
                    self._report(
                        raw.number,
                        raw.offset,
                        f"trace ends mid-line: last line truncated after {raw.length} bytes",
                    )
                elif not raw.data.strip():
                    self._report(raw.number, raw.offset, "blank line")
                else:
                    self._report(
                        raw.number, raw.offset, f"invalid JSON at column {exc.colno}: {exc.msg}"
                    )
                continue
            # The compiled check accepts exactly what check_event does (tests/model/test_fastcheck.py)
            # at a fraction of its cost; the reason is only worked out for a line it refuses.
            problem = None if fast_accepts(obj) else check_event(obj)
            if problem is not None:
                self._report(raw.number, raw.offset, problem)
                continue
            kind = obj["kind"]
            if not is_known_kind(kind):
                self._report(
                    raw.number,
                    raw.offset,
                    f"unknown event kind {kind!r}, kept as an opaque event",
                    "warning",
                )
            elif kind == "trace.start":
                self._report(
                    raw.number, raw.offset, "second trace.start header (two traces concatenated?)"
                )
                continue
            seq = obj["seq"]
            if seq <= last_seq:
                self._report(
                    raw.number, raw.offset, f"seq {seq} does not increase (previous {last_seq})"
                )
            last_seq = max(seq, last_seq)
            ts = obj["ts"]
            if ts < last_ts:
                self._report(raw.number, raw.offset, f"ts {ts} goes backwards (previous {last_ts})")
            last_ts = max(ts, last_ts)
            if not raw.complete:
                self._report(raw.number, raw.offset, "last line has no newline", "warning")
            yield raw.number, raw.offset, obj

    @property
    def stream(self) -> IO[bytes]:
        """The open byte stream, positioned after the header until events are iterated."""
        return self._stream

    def close(self) -> None:
        self._stream.close()

    def __enter__(self) -> TraceReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_events(
    path: str | os.PathLike[str], *, strict: bool = False
) -> tuple[dict[str, Any], list[dict[str, Any]], list[Diagnostic]]:
    """Read a whole trace into memory: (header, events, diagnostics). For small traces and tests."""
    with TraceReader(path, strict=strict) as reader:
        events = list(reader)
        return reader.header, events, reader.diagnostics


def _why(exc: BaseException) -> str:
    if isinstance(exc, EOFError):
        return "file is truncated"
    return str(exc) or type(exc).__name__
