"""Append-only JSONL trace writer: header first, batched writes, flush before freeze and exit.

Thread-safe: one lock orders `seq`, `ts` and the buffer, so lines never interleave. It never raises
into the traced program: the first failed write is reported once on stderr and recording stops.
"""

from __future__ import annotations

import gzip
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import orjson

from .events import SCHEMA_VERSION

FLUSH_BYTES = 256 * 1024
"""Buffered bytes that trigger a write; explicit flush() happens at every freeze anyway."""


_WORK_LINE = b'{"seq":%d,"ts":%d,"kind":"%s","inv":%s,"work":%d}\n'


def work_kind(kind: str) -> bytes:
    """`kind` pre-encoded for `TraceWriter.emit_work`."""
    return kind.encode()


def inv_bytes(inv: int | None) -> bytes:
    """An invocation number pre-encoded for `TraceWriter.emit_work`."""
    return b"null" if inv is None else b"%d" % inv


class TraceWriter:
    """Writes one trace file. `emit()` assigns `seq` and `ts` under the lock."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        header: dict[str, Any],
        *,
        clock: Callable[[], int] | None = None,
        fsync: bool = False,
        append: bool = False,
        next_seq: int = 0,
        last_ts: int = 0,
    ) -> None:
        self.path = Path(path)
        self._clock = clock or (lambda: 0)
        self._fsync = fsync
        self._lock = threading.Lock()
        self._buffer: list[bytes] = []
        self._buffered = 0
        self._seq = next_seq
        self._last_ts = last_ts
        self._failed = False
        self._closed = False
        self._stopped = False
        """failed or closed: one flag for the hot paths."""
        self._core: Any = None
        """Set by `attach`: the object that now orders seq/ts and holds the buffer."""
        self._file: IO[bytes] | None = None
        try:
            self._file = self._open(append)
        except OSError as exc:
            self._fail(exc)
            return
        if not append:
            fields = {"version": SCHEMA_VERSION, **header}
            self.emit("trace.start", None, fields, ts=0)
            self.flush()

    def _open(self, append: bool) -> IO[bytes]:
        mode = "ab" if append else "wb"
        if self.path.name.endswith(".gz"):
            return gzip.open(self.path, mode)  # type: ignore[return-value]
        return open(self.path, mode)

    @property
    def failed(self) -> bool:
        """True once a write failed and recording stopped."""
        return self._failed

    @property
    def next_seq(self) -> int:
        return self._seq if self._core is None else int(self._core.seq)

    def attach(self, make_core: Callable[[int, int], Any]) -> bool:
        """Hand `seq`, `ts` and the buffer to a core built by `make_core(next_seq, last_ts)` (the
        runtime's C accelerator). Its `emit_work`/`emit_raw` replace this writer's: each is one
        call holding the GIL, so every emit, from any thread, still goes through one ordering of
        seq and ts. The file stays written here, under the lock (`core.drain`). False if stopped."""
        with self._lock:
            if self._stopped or self._core is not None:
                return False
            self._write_locked()  # what is buffered goes out before anything the core buffers
            core = make_core(self._seq, self._last_ts)
            core.drain = self._drain
            self._core = core
            self.emit_work = core.emit_work  # type: ignore[method-assign]
            self.emit_raw = core.emit_raw  # type: ignore[method-assign]
            return True

    def _drain(self) -> None:
        with self._lock:
            self._write_locked()

    def emit(
        self,
        kind: str,
        inv: int | None,
        fields: dict[str, Any] | None = None,
        *,
        ts: int | None = None,
    ) -> int:
        """Append one event; returns its seq (or -1 when recording has stopped)."""
        event: dict[str, Any] = {"kind": kind, "inv": inv}
        if fields:
            event.update(fields)
        # default=repr: a value JSON cannot hold is kept as its repr instead of losing the event.
        body = orjson.dumps(event, default=repr, option=orjson.OPT_APPEND_NEWLINE)
        return self.emit_raw(body[1:], b"", ts=ts)

    def emit_work(self, kind: bytes, inv: bytes, work: int) -> None:
        """Fast path for `work.begin`/`work.end`, the hottest events (two a task step): `kind`
        and `inv` come pre-encoded (see `work_kind`, `inv_bytes`) and the line is formatted in
        place, without the extra call `emit_raw` would cost."""
        with self._lock:
            if self._stopped:
                return
            seq = self._seq
            self._seq = seq + 1
            now = self._clock()
            if now < self._last_ts:
                now = self._last_ts
            else:
                self._last_ts = now
            line = _WORK_LINE % (seq, now, kind, inv, work)
            self._buffer.append(line)
            self._buffered += len(line)
            if self._buffered >= FLUSH_BYTES:
                self._write_locked()

    def emit_raw(self, head: bytes, tail: bytes, *, ts: int | None = None) -> int:
        """Append `{"seq":..,"ts":..,` + head + tail, the rest of the line already JSON: `emit`
        serialises outside the lock and comes here; work.create caches the JSON of the fields
        that repeat (name, site, stack). `ts` defaults to the clock and never goes backwards.
        Returns the seq (-1 when recording has stopped)."""
        with self._lock:
            if self._stopped:
                return -1
            seq = self._seq
            self._seq = seq + 1
            now = self._clock() if ts is None else ts
            if now < self._last_ts:
                now = self._last_ts
            else:
                self._last_ts = now
            line = b'{"seq":%d,"ts":%d,%s%s' % (seq, now, head, tail)
            self._buffer.append(line)
            self._buffered += len(line)
            if self._buffered >= FLUSH_BYTES:
                self._write_locked()
            return seq

    @property
    def last_ts(self) -> int:
        return self._last_ts if self._core is None else int(self._core.last_ts)

    def flush(self) -> None:
        """Write everything buffered to the OS (and to disk with fsync=True)."""
        with self._lock:
            self._write_locked()
            if self._file is not None and not self._failed:
                try:
                    self._file.flush()
                    if self._fsync and not isinstance(self._file, gzip.GzipFile):
                        os.fsync(self._file.fileno())
                except (OSError, ValueError) as exc:
                    self._fail(exc)

    def close(self) -> None:
        self.flush()
        with self._lock:
            self._closed = self._stopped = True
            if self._core is not None:
                self._core.stopped = True
            if self._file is not None:
                try:
                    self._file.close()
                except (OSError, ValueError) as exc:
                    self._fail(exc)
                self._file = None

    def _write_locked(self) -> None:
        if self._core is not None:
            data = self._core.take()
            if data and self._file is not None and not self._failed:
                try:
                    self._file.write(data)
                except (OSError, ValueError) as exc:
                    self._fail(exc)
            return
        if not self._buffer or self._file is None or self._failed:
            self._buffer.clear()
            self._buffered = 0
            return
        data = b"".join(self._buffer)
        self._buffer.clear()
        self._buffered = 0
        try:
            self._file.write(data)
        except (OSError, ValueError) as exc:
            self._fail(exc)

    def _fail(self, exc: BaseException) -> None:
        if self._failed:
            return
        self._failed = self._stopped = True
        if self._core is not None:
            self._core.stopped = True
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        print(
            f"lambda-trace: cannot write trace {self.path}: {reason}; recording stopped",
            file=sys.stderr,
        )

    def __enter__(self) -> TraceWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
