"""One-pass trace loader: each line decoded into array columns, invocations and works, then analysis.

Accepts and rejects exactly what `TraceReader` does, with the same diagnostics (proved by the
hypothesis tests of tests/model/test_load.py), but reads in 1 MiB chunks, decodes and checks most
lines with the msgspec structs of `fastcheck.py` (the rest with orjson and the exact checks) and
keeps no dict per event. The hot loop runs in C (`_fastload.c`) when it is built; the Python loop
`_Loader._fast` is its reference and fallback. tests/benchmarks/bench_load.py measures it
against bare `orjson.loads` of every line.
"""

from __future__ import annotations

import gzip
import os
import struct
import sys
import time
import zlib
from array import array
from bisect import insort
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import accumulate, count, islice
from operator import add
from typing import Any

import orjson

from ..accel import optional
from .analysis import analyse
from .check import check_event
from .fastcheck import LINE_DECODER, REST_CHECKS, STRUCTS
from .gcpause import gc_paused
from .reader import MAX_LINE, TraceReader, _why
from .trace import KIND_CODES, KINDS, OPAQUE, Env, EventColumns, Invocation, Trace, file_size
from .works import REF, ROLE, STATUS_CODES, TYPE_CODES, Freeze, SpanStore, WorkTable

_UNKNOWN_TYPE = TYPE_CODES["?"]
_fastload: Any = optional(f"{__package__}._fastload")
"""`_fast` in C (`_fastload.c`), or None: the Python loop below runs."""
_Pending = tuple[list[int], list[int], list[int], list[int], list[int], list[int]]
"""Values `_fast` collected for: ts, kind, inv, work, span first, span last."""


def _pack(typecode: str, values: list[int]) -> bytes:
    """The machine bytes of `values` for an array of `typecode` (struct packs with no per-item
    argument parsing: 3x quicker than appending one by one)."""
    return struct.pack(f"{len(values)}{typecode}", *values)


assert all(getattr(st, "code") == KIND_CODES[k] for k, (st, _raw) in STRUCTS.items())  # noqa: B009


def _never(obj: dict[str, Any]) -> bool:
    return False


Progress = Callable[[int, int], None]
"""Called with (bytes read, total bytes) about every `PROGRESS_EVERY_S` seconds, and at the end."""
PROGRESS_EVERY_S = 0.25
CHUNK = 1024 * 1024
GZIP_CHUNK = 1024 * 1024
"""Smaller reads for gzip: a truncated stream loses what the failing read had decoded."""

_BEGIN = KIND_CODES["work.begin"]
_END = KIND_CODES["work.end"]
_LOG = KIND_CODES["log"]
_CREATE = KIND_CODES["work.create"]
_DONE = KIND_CODES["work.done"]
_CANCEL = KIND_CODES["work.cancel"]
_REF = KIND_CODES["work.ref"]
_NAME = KIND_CODES["work.name"]
_ERROR = KIND_CODES["error"]
_INVOKE_START = KIND_CODES["invoke.start"]
_INVOKE_END = KIND_CODES["invoke.end"]
_RESPOND_CALL = KIND_CODES["respond.call"]
_RESPOND_POST = KIND_CODES["respond.post"]
_FREEZE = KIND_CODES["env.freeze"]
_THAW = KIND_CODES["env.thaw"]
_SHUTDOWN = KIND_CODES["env.shutdown"]
_INIT_START = KIND_CODES["env.init.start"]
_INIT_END = KIND_CODES["env.init.end"]
_TRACE_START = KIND_CODES["trace.start"]


@dataclass(slots=True)
class LogNote:
    """Log lines of one work emitted during one invocation other than the one that created it."""

    row: int
    """Row of the work in the WorkTable."""
    inv: int
    count: int
    first_ns: int
    request_id: str | None
    text: str


@dataclass(slots=True)
class ErrorNote:
    """An error event billed to an invocation other than the one that created its work."""

    ts: int
    row: int
    billed: int
    type: str
    message: str
    fatal: bool


@dataclass
class LoadNotes:
    """Facts the pass collects for the analysis that the Trace itself does not keep."""

    logs: dict[tuple[int, int], LogNote] = field(default_factory=dict)
    errors: list[ErrorNote] = field(default_factory=list)
    crossed: list[int] = field(default_factory=list)
    cancelled: list[int] = field(default_factory=list)


def load_trace(
    path: str | os.PathLike[str], *, progress: Progress | None = None, max_line: int = MAX_LINE
) -> Trace:
    """Load and analyse a trace in one pass, tolerating bad lines (see `Trace.diagnostics`).

    Raises `TraceFormatError` when the file is not a trace (missing, unreadable, bad header).
    """
    reader = TraceReader(path, max_line=max_line)
    with gc_paused():  # columns, rows and findings: nothing in a cycle
        try:
            loader = _Loader(reader, max_line)
            loader.run(progress)
            trace, notes = loader.finish()
        finally:
            reader.close()
        analyse(trace, notes)
    return trace


class _Loader:
    def __init__(self, reader: TraceReader, max_line: int) -> None:
        self.reader = reader
        self.path = reader.path
        self.max_line = max_line
        self.cols = EventColumns(reader.path)
        self.spans = SpanStore(self.cols.ts, self.cols.inv, self.cols.work)
        self.table = WorkTable(self.spans)
        # trace.start after the header is never accepted by the fast path: _slow reports it.
        self.rest_checks = [_never if k == "trace.start" else REST_CHECKS[k] for k in KINDS]
        self.crossed: list[int] = []
        """Rows that ran in another invocation after a freeze."""
        self.cancelled: list[int] = []
        """Rows with a work.cancel or a cancelled work.done."""
        self.invocations: list[Invocation] = []
        self.inv_by_index: dict[int, Invocation] = {}
        self.envs: list[Env] = []
        self.env: Env | None = None
        self.freezes: list[Freeze] = []
        self.last_freeze_ns = -1
        self.env_id: int | None = None
        self.notes = LoadNotes()
        self.stacks: dict[tuple[str, ...], tuple[str, ...]] = {}
        header = reader.header
        self.last_seq: int = header["seq"]
        self.last_ts: int = header["ts"]
        self.line_no = reader.lines_read
        self.offset = reader.stream.tell()

    # -- reading ---------------------------------------------------------------------------------

    def run(self, progress: Progress | None) -> None:
        stream = self.reader.stream
        raw: Any = stream.fileobj if isinstance(stream, gzip.GzipFile) else stream
        total = file_size(self.path)
        chunk_size = GZIP_CHUNK if isinstance(stream, gzip.GzipFile) else CHUNK
        last_report = time.monotonic()
        carry = b""
        skipping = -1  # offset of a too-long line being skipped, or -1
        skipped = 0
        max_line = self.max_line
        while True:
            try:
                chunk = stream.read(chunk_size)
            except (OSError, EOFError, zlib.error) as exc:
                # What was decoded before the error is kept; the partial line is dropped as the
                # reader drops it.
                self.reader.truncated = True
                self.reader._report(
                    self.line_no + 1,
                    0,
                    f"compressed stream ends early or is corrupt: {_why(exc)}",
                )
                carry = b""
                skipping = -1
                break
            if not chunk:
                break
            if skipping >= 0:
                nl = chunk.find(b"\n")
                if nl < 0:
                    skipped += len(chunk)
                    continue
                skipped += nl + 1
                self._skip_long(skipping, skipped)
                skipping = -1
                chunk = chunk[nl + 1 :]
            data = carry + chunk if carry else chunk
            lines = data.split(b"\n")
            carry = lines.pop()
            fast = _utf8(data, len(data) - len(carry))
            if len(carry) > max_line:
                skipping, skipped = self.offset + sum(len(x) + 1 for x in lines), len(carry)
                carry = b""
            self.feed(lines, True, fast)
            if skipping >= 0:
                continue
            if progress is not None:
                now = time.monotonic()
                if now - last_report >= PROGRESS_EVERY_S:
                    last_report = now
                    progress(_position(raw), total)
        if skipping >= 0:
            self._skip_long(skipping, skipped, complete=False)
        elif carry:
            self.feed([carry], False)
        self.reader.lines_read = self.line_no
        if progress is not None:
            progress(total, total)

    def _skip_long(self, offset: int, length: int, complete: bool = True) -> None:
        # `offset` was computed before the lines preceding it were fed: feed() has advanced since.
        self.line_no += 1
        self.reader._report(
            self.line_no,
            offset,
            f"line is {length:,} bytes, over the {self.max_line:,}-byte limit; skipped",
        )
        self.offset = offset + length

    def _bad_json(self, line_no: int, off: int, line: bytes, complete: bool) -> None:
        report = self.reader._report
        if not complete:
            self.reader.truncated = True
            report(
                line_no, off, f"trace ends mid-line: last line truncated after {len(line)} bytes"
            )
        elif not line.strip():
            report(line_no, off, "blank line")
        else:
            try:  # re-parse with the newline the reader sees, for the same column in the message
                orjson.loads(line + b"\n")
            except orjson.JSONDecodeError as exc:
                report(line_no, off, f"invalid JSON at column {exc.colno}: {exc.msg}")

    def feed(self, lines: list[bytes], complete: bool, fast: bool = True) -> None:
        """Check and index a batch of lines.

        Each line is first decoded by the msgspec structs (`fastcheck.LINE_DECODER`: decode and
        check in C) in `_fast`, a lean loop for the common case; a line it does not take (refused
        by the structs, out of order, a payload field present, a work with no `work.create`) goes
        through `_general`, the orjson path with the reader's exact checks and diagnostics, and
        `_fast` resumes after it. `fast=False` (bytes that are not valid UTF-8), an incomplete
        last line, or a line over the limit send the whole batch through `_general`.
        """
        n = len(lines)
        size = sum(map(len, lines)) + (n if complete else 0)
        starts: array[int] | None = None  # line offsets: only diagnostics need them
        rejected: list[int] = []
        first = len(self.cols.ts)
        long_lines = size > self.max_line and max(map(len, lines)) > self.max_line
        if fast and complete and not long_lines:
            i = 0
            while i < n:
                i = self._fast(lines, i)
                if i < n:
                    if starts is None:
                        starts = self._starts(lines)
                    self._general(lines, i, i + 1, True, True, False, starts, rejected)
                    i += 1
        else:
            starts = self._starts(lines)
            self._general(lines, 0, n, complete, fast, long_lines, starts, rejected)
        self.cols.offset.add_batch(first, self.offset, size, lines, rejected)
        self.line_no += n
        self.offset += size

    def _starts(self, lines: list[bytes]) -> array[int]:
        """Byte offset of each line of a batch (and one past the last), for diagnostics."""
        return array("q", map(add, accumulate(map(len, lines), initial=self.offset), count()))

    def _general(
        self,
        lines: list[bytes],
        lo: int,
        hi: int,
        complete: bool,
        fast: bool,
        long_lines: bool,
        starts: array[int],
        rejected: list[int],
    ) -> None:
        """Check and index lines[lo:hi], any line (the careful loop; rare kinds in `_other`)."""
        decode = LINE_DECODER.decode if fast and complete else None
        loads = orjson.loads
        decode_error = orjson.JSONDecodeError
        codes = KIND_CODES
        rest_checks = self.rest_checks
        report = self.reader._report
        cols = self.cols
        ts_append = cols.ts.append
        kind_append = cols.kind.append
        inv_append = cols.inv.append
        work_append = cols.work.append
        spans = self.spans
        span_first, span_last = spans.first.append, spans.last.append
        ts_col = cols.ts
        table = self.table
        rows = table.row
        open_ev = table.open_ev
        ran_last = table.ran_last
        ran_first = table.ran_first
        created_in = table.created_in
        done_ns = table.done_ns
        status_col = table.status
        other = self._other
        max_line = self.max_line
        base_line = self.line_no
        reject = rejected.append
        last_seq = self.last_seq
        last_ts = self.last_ts
        begin_code, end_code, log_code = _BEGIN, _END, _LOG
        create_code, done_code = _CREATE, _DONE
        e: Any
        for i in range(lo, hi):
            line = lines[i]
            if long_lines and len(line) > max_line:
                n = len(line) + (1 if complete else 0)
                report(
                    base_line + i + 1,
                    starts[i],
                    f"line is {n:,} bytes, over the {max_line:,}-byte limit; skipped",
                )
                reject(i)
                continue
            e = None
            if decode is not None:
                try:
                    e = decode(line)
                except Exception:  # DecodeError, ValidationError, RecursionError: the slow path
                    pass
            if (
                e is not None
                and e.seq > last_seq
                and e.ts >= last_ts
                and not (e.raw and any(getattr(e, name) for name in e.raw))
            ):
                code = e.code
                ts = e.ts
                inv = e.inv
                last_seq = e.seq
                last_ts = ts
            else:
                try:
                    obj = loads(line)
                except decode_error:
                    self._bad_json(base_line + i + 1, starts[i], line, complete)
                    reject(i)
                    continue
                # Common fields checked inline (fastcheck.common_ok, folded into the order checks:
                # seq > last_seq >= 0 and ts >= last_ts >= 0 imply the NonNeg bounds), then the
                # kind's own fields. Anything else takes the exact, reporting path.
                try:
                    seq = obj["seq"]
                    ts = obj["ts"]
                    inv = obj["inv"]
                    code = codes[obj["kind"]]
                except (KeyError, TypeError, IndexError):
                    code = -1
                if (
                    code >= 0
                    and type(seq) is int
                    and seq > last_seq
                    and type(ts) is int
                    and ts >= last_ts
                    and (inv is None or (type(inv) is int and inv >= 0))
                    and complete
                    and rest_checks[code](obj)
                ):
                    last_seq = seq
                    last_ts = ts
                else:
                    code, last_seq, last_ts = self._careful(
                        obj, base_line + i + 1, starts[i], last_seq, last_ts, complete
                    )
                    if code < 0:
                        reject(i)
                        continue
                    ts = obj["ts"]
                    inv = obj["inv"]
                e = _View(obj, code)
            try:
                ts_append(ts)
                kind_append(code)
                inv_append(-1 if inv is None else inv)
                if code == begin_code:
                    wid = e.work
                    work_append(wid)
                    k = rows.get(wid)
                    if k is None:
                        k = self._unknown_work(wid, ts, inv)
                    open_ev[k] = len(ts_col) - 1
                    if inv is not None:
                        r = ran_last[k]
                        if r != inv:
                            if r < 0 and created_in[k] == inv:  # first step, where created
                                ran_first[k] = inv
                                ran_last[k] = inv
                            else:
                                self._ran(k, inv, ts)
                elif code == end_code:
                    wid = e.work
                    work_append(wid)
                    k = rows.get(wid)
                    if k is not None:
                        b = open_ev[k]
                        if b >= 0:
                            span_first(b)
                            span_last(len(ts_col) - 1)
                            open_ev[k] = -1
                elif code == log_code:
                    wid = e.work
                    if wid is None:
                        work_append(-1)
                        continue
                    work_append(wid)
                    k = rows.get(wid)
                    if k is not None and inv is not None and inv >= 1:
                        c = created_in[k]
                        if c >= 1 and c != inv:
                            self._log_note(k, e.text, e.request_id, ts, inv)
                elif code == create_code:
                    wid = e.work
                    work_append(wid)
                    if wid not in rows:  # a second work.create for one id: the first wins
                        self._create_row(e, wid, ts, inv)
                elif code == done_code:
                    wid = e.work
                    work_append(wid)
                    k = rows.get(wid)
                    if k is None:
                        k = self._unknown_work(wid, ts, inv)
                    b = open_ev[k]
                    if b >= 0:
                        span_first(b)
                        span_last(len(ts_col) - 1)
                        open_ev[k] = -1
                    if done_ns[k] < 0:
                        done_ns[k] = ts
                        status = e.status
                        error = (e.error_type, e.error_message)
                        if status == "ok" and error == (None, None):
                            status_col[k] = 1
                        else:
                            self._done_extra(k, status, error)
                else:
                    obj = e.obj if type(e) is _View else loads(line)
                    work_append(other(code, obj, ts, inv, len(ts_col) - 1))
            except OverflowError:
                # An id or time beyond 2**63 (valid JSON, not storable in the columns).
                self._overflow(base_line + i + 1, starts[i])
        self.last_seq = last_seq
        self.last_ts = last_ts

    def _fast(self, lines: list[bytes], lo: int) -> int:
        """Index lines from `lo` while the msgspec structs take them (the hot loop: locals only,
        no per-event method calls for the common kinds); returns the index of the first line it
        did not take (`len(lines)` when it took them all), before changing anything for it.

        Struct-decoded ints are within 64 bits, so no append here can overflow. `_fastload.scan`
        is this loop in C, when built.
        """
        if _fastload is not None:
            return int(_fastload.scan(self, lines, lo, _SCAN_CONSTS))
        decode = LINE_DECODER.decode
        loads = orjson.loads
        ts_col = self.cols.ts
        # The event columns and spans are collected in lists and packed into their arrays in
        # batches (`_flush`): array.append parses its argument each time, 3x a list append.
        pending: _Pending = ([], [], [], [], [], [])
        ts_l, kind_l, inv_l, work_l, first_l, last_l = pending
        ts_append, kind_append, inv_append = ts_l.append, kind_l.append, inv_l.append
        work_append = work_l.append
        span_first, span_last = first_l.append, last_l.append
        flush = self._flush
        table = self.table
        rows = table.row
        rows_get = rows.get
        open_ev = table.open_ev
        ran_last = table.ran_last
        ran_first = table.ran_first
        created_in = table.created_in
        done_ns = table.done_ns
        status_col = table.status
        ids = table.id
        id_append = ids.append
        parent_append = table.parent.append
        created_in_append = created_in.append
        created_ns_append = table.created_ns.append
        env_append = table.env.append
        flags_append = table.flags.append
        name_append = table.name.append
        site_append = table.site.append
        stack_append = table.stack.append
        stacks = self.stacks
        stacks_get = stacks.get
        type_codes = TYPE_CODES
        intern = sys.intern
        other = self._other
        ran = self._ran
        log_note = self._log_note
        last_seq = self.last_seq
        last_ts = self.last_ts
        begin_code, end_code, log_code = _BEGIN, _END, _LOG
        create_code, done_code = _CREATE, _DONE
        env_id = -1 if self.env_id is None else self.env_id  # changes only in `other`
        capacity = table.capacity  # grows here or in `other`
        start = index = len(ts_col)  # event index of the next event
        e: Any
        for line in islice(lines, lo, None) if lo else lines:
            try:
                e = decode(line)
            except Exception:  # DecodeError, ValidationError, RecursionError: the slow path
                break
            seq = e.seq
            ts = e.ts
            if seq <= last_seq or ts < last_ts:
                break
            code = e.code
            inv = e.inv
            if code == begin_code:
                wid = e.work
                k = rows_get(wid)
                if k is None:
                    break
                ts_append(ts)
                kind_append(code)
                work_append(wid)
                open_ev[k] = index
                if inv is None:
                    inv_append(-1)
                else:
                    inv_append(inv)
                    r = ran_last[k]
                    if r != inv:
                        if r < 0 and created_in[k] == inv:  # first step, where created
                            ran_first[k] = inv
                            ran_last[k] = inv
                        else:
                            ran(k, inv, ts)
            elif code == end_code:
                wid = e.work
                ts_append(ts)
                kind_append(code)
                work_append(wid)
                inv_append(-1 if inv is None else inv)
                k = rows_get(wid)
                if k is not None:
                    b = open_ev[k]
                    if b >= 0:
                        span_first(b)
                        span_last(index)
                        open_ev[k] = -1
            elif code == create_code:
                wid = e.work
                ts_append(ts)
                kind_append(code)
                work_append(wid)
                inv_append(-1 if inv is None else inv)
                if wid not in rows:  # a second work.create for one id: the first wins
                    k = len(ids)
                    if k >= capacity:
                        table.grow()
                        capacity = table.capacity
                    id_append(wid)
                    parent = e.parent
                    parent_append(-1 if parent is None else parent)
                    c = e.created_in
                    created_in_append(-1 if c is None else c)
                    created_ns_append(ts)
                    env_append(env_id)
                    role = e.role
                    if role is None and e.ref is not False:
                        flags_append(type_codes[e.type] | REF)
                    else:
                        flags_append(
                            type_codes[e.type]
                            | (ROLE if role is not None else 0)
                            | (0 if e.ref is False else REF)
                        )
                    name_append(intern(e.name))
                    site_append(intern(e.site))
                    raw = e.stack  # many works share a stack: hold one per distinct
                    stack = stacks_get(raw)
                    if stack is None:
                        stack = stacks[raw] = tuple(map(intern, raw))
                    stack_append(stack)
                    rows[wid] = k
                    delay = e.delay_ns
                    if delay is not None:
                        table.delay_ns[k] = delay
                    if role is not None:
                        self._handler_created(wid, inv)
            elif code == done_code:
                wid = e.work
                k = rows_get(wid)
                if k is None:
                    break
                ts_append(ts)
                kind_append(code)
                work_append(wid)
                inv_append(-1 if inv is None else inv)
                b = open_ev[k]
                if b >= 0:
                    span_first(b)
                    span_last(index)
                    open_ev[k] = -1
                if done_ns[k] < 0:
                    done_ns[k] = ts
                    status = e.status
                    if status == "ok" and e.error_type is None and e.error_message is None:
                        status_col[k] = 1
                    else:
                        self._done_extra(k, status, (e.error_type, e.error_message))
            elif code == log_code:
                wid = e.work
                ts_append(ts)
                kind_append(code)
                if wid is None:
                    work_append(-1)
                    inv_append(-1 if inv is None else inv)
                elif inv is None:
                    work_append(wid)
                    inv_append(-1)
                else:
                    work_append(wid)
                    inv_append(inv)
                    if inv >= 1:
                        k = rows_get(wid)
                        if k is not None:
                            c = created_in[k]
                            if c >= 1 and c != inv:
                                log_note(k, e.text, e.request_id, ts, inv)
            else:
                if e.raw and any(getattr(e, name) for name in e.raw):
                    break
                ts_append(ts)
                kind_append(code)
                inv_append(-1 if inv is None else inv)
                flush(pending)  # `other` may add spans and rows itself: keep their order
                work_append(other(code, loads(line), ts, inv, index))
                env_id = -1 if self.env_id is None else self.env_id
                capacity = table.capacity
            index += 1
            last_seq = seq
            last_ts = ts
        flush(pending)
        self.last_seq = last_seq
        self.last_ts = last_ts
        return lo + index - start  # one event per line taken

    def _flush(self, pending: _Pending) -> None:
        """Pack what `_fast` collected into the event columns and spans, and empty the lists."""
        cols, spans = self.cols, self.spans
        for col, values in zip(
            (cols.ts, cols.kind, cols.inv, cols.work, spans.first, spans.last), pending, strict=True
        ):
            if values:
                col.frombytes(_pack(col.typecode, values))
                values.clear()

    def _create_row(self, e: Any, wid: int, ts: int, inv: int | None) -> None:
        """The row of a work's first `work.create` (the careful loop's; `_fast` inlines it):
        `WorkTable.add` with name and site interned and one stack tuple per distinct stack, then
        its delay and, for the handler, the invocation's handler work."""
        raw = tuple(e.stack)
        stack = self.stacks.get(raw)
        if stack is None:
            stack = self.stacks[raw] = tuple(map(sys.intern, raw))
        role = e.role
        k = self.table.add(
            wid,
            TYPE_CODES[e.type],
            sys.intern(e.name),
            sys.intern(e.site),
            stack,
            e.parent,
            e.created_in,
            ts,
            self.env_id,
            role is not None,
            e.ref is not False,
        )
        if e.delay_ns is not None:
            self.table.delay_ns[k] = e.delay_ns
        if role is not None:
            self._handler_created(wid, inv)

    def _careful(
        self, obj: Any, line_no: int, off: int, last_seq: int, last_ts: int, complete: bool
    ) -> tuple[int, int, int]:
        """Exact check and order diagnostics in the reader's order: (code or -1, seq, ts)."""
        code = self._slow(obj, line_no, off)
        if code < 0:
            return code, last_seq, last_ts
        report = self.reader._report
        seq, ts = obj["seq"], obj["ts"]
        if seq <= last_seq:
            report(line_no, off, f"seq {seq} does not increase (previous {last_seq})")
        else:
            last_seq = seq
        if ts < last_ts:
            report(line_no, off, f"ts {ts} goes backwards (previous {last_ts})")
        else:
            last_ts = ts
        if not complete:
            report(line_no, off, "last line has no newline", "warning")
        return code, last_seq, last_ts

    def _slow(self, obj: Any, line_no: int, off: int) -> int:
        """The exact check for what the fast path did not accept: a code, or -1 if rejected."""
        report = self.reader._report
        problem = check_event(obj)
        if problem is not None:
            report(line_no, off, problem)
            return -1
        kind = obj["kind"]
        if kind == "trace.start":
            report(line_no, off, "second trace.start header (two traces concatenated?)")
            return -1
        code = KIND_CODES.get(kind)
        if code is not None:
            return code  # unreachable while fastcheck agrees with check_event
        report(line_no, off, f"unknown event kind {kind!r}, kept as an opaque event", "warning")
        return OPAQUE

    def _overflow(self, line_no: int, off: int) -> None:
        # Keep the columns aligned: drop what this event appended, keep it as a bare opaque row
        # (its offset is added with the batch).
        self.table.repair()
        cols = self.cols
        n = len(cols.work)  # appended last: the length before this event
        for col in (cols.ts, cols.kind, cols.inv):
            del col[n:]
        cols.ts.append(cols.ts[-1] if n else 0)
        cols.kind.append(OPAQUE)
        cols.inv.append(-1)
        cols.work.append(-1)
        self.reader._report(
            line_no, off, "a number in this event is too large to index; shown as opaque", "warning"
        )

    # -- less frequent kinds ---------------------------------------------------------------------

    def _unknown_work(self, wid: int, ts: int, inv: int | None) -> int:
        # A step of work whose work.create is missing (a damaged trace): keep what we can.
        return self.table.add(
            wid, _UNKNOWN_TYPE, f"work {wid}", "?", (), None, inv, ts, self.env_id
        )

    def _ran(self, k: int, inv: int, ts: int) -> None:
        """A step of row k in an invocation other than its previous step's."""
        t = self.table
        last = t.ran_last[k]
        if last < 0:
            t.ran_first[k] = inv
        else:
            more = t.ran_more.get(k)
            if more is None:
                more = t.ran_more[k] = [t.ran_first[k]]
            if inv > more[-1]:  # invocations mostly come in order: no scan of a long list
                more.append(inv)
            elif inv not in more:
                insort(more, inv)
        t.ran_last[k] = inv
        c = t.created_in[k]
        # Freezes come in time order: one began after the work was created iff the last did.
        if c >= 0 and inv != c and k not in t.cross and self.last_freeze_ns >= t.created_ns[k]:
            t.cross[k] = (ts, inv)
            self.crossed.append(k)

    def _close_span(self, k: int, index: int) -> None:
        """Close row k's running span at event `index`, if one is open."""
        t = self.table
        b = t.open_ev[k]
        if b >= 0:
            self.spans.add(b, index)
            t.open_ev[k] = -1

    def _log_note(self, k: int, text: str, request_id: str | None, ts: int, inv: int) -> None:
        key = (k, inv)
        note = self.notes.logs.get(key)
        if note is None:
            self.notes.logs[key] = LogNote(k, inv, 1, ts, request_id, text[:200])
        else:
            note.count += 1

    def _handler_created(self, wid: int, inv: int | None) -> None:
        if inv is not None:
            current = self.inv_by_index.get(inv)
            if current is not None and current.handler_work is None:
                current.handler_work = wid

    def _done_extra(self, k: int, status: str, error: tuple[str | None, str | None]) -> None:
        t = self.table
        t.status[k] = STATUS_CODES[status]
        if status == "cancelled":
            self.cancelled.append(k)
        if error != (None, None):
            t.error[k] = error

    def _work_row(self, wid: int, ts: int, inv: int | None) -> int:
        k = self.table.row.get(wid)
        return self._unknown_work(wid, ts, inv) if k is None else k

    def _other(self, code: int, obj: dict[str, Any], ts: int, inv: int | None, index: int) -> int:
        """Index event `index`, of a less frequent kind; returns the work id it names, or -1."""
        t = self.table
        if code == _CANCEL:
            wid: int = obj["work"]
            k = self._work_row(wid, ts, inv)
            if k not in t.cancel:
                t.cancel[k] = (ts, -1 if inv is None else inv)
                reason = obj.get("reason")
                if reason is not None:
                    t.cancel_reason[k] = reason
                self.cancelled.append(k)
            return wid
        if code == _REF:
            wid = obj["work"]
            t.set_ref(self._work_row(wid, ts, inv), obj["ref"])
            return wid
        if code == _NAME:
            wid = obj["work"]
            t.name[self._work_row(wid, ts, inv)] = obj["name"]
            return wid
        if code == _ERROR:
            wid_or_none: int | None = obj["work"]
            billed: int | None = obj["billed"]
            if wid_or_none is None:
                return -1
            k = self._work_row(wid_or_none, ts, inv)
            c = t.created_in[k]
            if billed is not None and c >= 1 and billed != c:
                self.notes.errors.append(
                    ErrorNote(ts, k, billed, obj["type"], obj["message"], obj.get("fatal", False))
                )
            return wid_or_none
        if code == _INVOKE_START:
            index = inv if inv is not None else len(self.invocations) + 1
            invocation = Invocation(
                index,
                obj["request_id"],
                obj["env"],
                obj["cold"],
                ts,
                obj["deadline_ns"],
            )
            self.invocations.append(invocation)
            self.inv_by_index.setdefault(index, invocation)
            return -1
        current = self.inv_by_index.get(inv) if inv is not None else None
        if code == _RESPOND_CALL:
            if current is not None:
                if obj.get("accepted", True) and current.respond_call_ns is None:
                    current.respond_call_ns = ts
                    current.respond_via = obj["via"]
                else:
                    current.ignored_calls += 1
            work = obj.get("work")
            return work if work is not None else -1
        if code == _RESPOND_POST:
            if current is not None and current.respond_post_ns is None:
                current.respond_post_ns = ts
                current.response_via = obj["via"]
                current.response_status = obj["status"]
                current.held_ns = obj["held_ns"]
                current.held_by = list(obj.get("held_by", ()))
                current.error_type = obj.get("error_type")
                current.error_message = obj.get("error_message")
            return -1
        if code == _INVOKE_END:
            if current is not None:
                current.end_ns = ts
                current.outcome = obj["outcome"]
                current.duration_ns = obj["duration_ns"]
                if obj.get("error_type") is not None:
                    current.error_type = obj["error_type"]
                if obj.get("error_message") is not None:
                    current.error_message = obj["error_message"]
            return -1
        if code == _FREEZE:
            self.freezes.append((ts, None, inv if inv is not None else -1))
            self.last_freeze_ns = ts
            if current is not None:
                current.freeze_ns = ts
                current.raw_pending = list(obj["pending"])
            return -1
        if code == _THAW:
            if self.freezes and self.freezes[-1][1] is None:
                f_ns, _t, f_inv = self.freezes[-1]
                self.freezes[-1] = (f_ns, ts, f_inv)
                before = self.inv_by_index.get(f_inv)
                if before is not None:
                    before.thaw_ns = ts
            if current is not None and current.thawed_ns is None:
                current.thawed_ns = ts
            return -1
        if code == _SHUTDOWN:
            env = self.env
            if env is None:
                env = Env(-1, ts)
                self.envs.append(env)
            env.shutdown_ns = ts
            env.shutdown_reason = obj["reason"]
            env.lost = list(obj["lost"])
            env.exit_code = obj.get("exit_code")
            t = self.table
            for lost_id in env.lost:
                row = t.row.get(lost_id)
                if row is not None and t.done_ns[row] < 0 and row not in t.lost_ns:
                    self._close_span(row, index)
                    t.lost_ns[row] = ts
            self.env = None
            self.env_id = None
            return -1
        if code == _INIT_START:
            self.env = Env(obj["env"], ts)
            self.env_id = self.env.env
            self.envs.append(self.env)
            return -1
        if code == _INIT_END:
            if self.env is not None:
                self.env.init_end_ns = ts
                self.env.init_ok = obj["ok"]
                self.env.error_type = obj.get("error_type")
                self.env.error_message = obj.get("error_message")
            return -1
        work = obj.get("work") if code == OPAQUE else None
        return work if type(work) is int else -1

    # -- the result ------------------------------------------------------------------------------

    def finish(self) -> tuple[Trace, LoadNotes]:
        """Close what is still open and assemble the Trace."""
        reader = self.reader
        end_ns = self.last_ts
        self.table.trim()
        open_ev = self.table.open_ev
        for k in range(len(self.table)):
            if open_ev[k] >= 0:  # still running when the trace ends
                self._close_span(k, len(self.cols.ts) - 1)
        trace = Trace(
            path=self.path,
            header=reader.header,
            diagnostics=reader.diagnostics,
            diagnostic_count=reader.diagnostic_count,
            error_count=reader.error_count,
            truncated=reader.truncated,
            events=self.cols,
            invocations=self.invocations,
            envs=self.envs,
            table=self.table,
            freezes=self.freezes,
            spans=self.spans,
            start_ns=reader.header["ts"],
            end_ns=end_ns,
        )
        self.notes.crossed = self.crossed
        self.notes.cancelled = self.cancelled
        return trace, self.notes


class _View:
    """Attribute access to an event dict from the orjson path, with the model's defaults, so one
    indexing loop serves both paths."""

    __slots__ = ("code", "obj")

    def __init__(self, obj: dict[str, Any], code: int) -> None:
        self.obj = obj
        self.code = code

    def __getattr__(self, name: str) -> Any:
        return self.obj.get(name, _DEFAULTS.get(name))


_DEFAULTS: dict[str, Any] = {"ref": True}
"""Defaults of the optional fields the indexing loop reads (the others default to None)."""


def _utf8(data: bytes, end: int) -> bool:
    """The first `end` bytes are valid UTF-8 (msgspec does not check what it only skips over)."""
    if data.isascii():
        return True
    try:
        data[:end].decode()
    except UnicodeDecodeError:
        return False
    return True


def _position(raw: Any) -> int:
    try:
        return int(raw.tell())
    except (OSError, ValueError, AttributeError):
        return 0


_SCAN_CONSTS = (
    LINE_DECODER.decode,
    orjson.loads,
    TYPE_CODES,
    _BEGIN,
    _END,
    _CREATE,
    _DONE,
    _LOG,
    REF,
    ROLE,
)
"""What `_fastload.scan` needs besides the loader: the decoders, kind and type codes, flags."""
if _fastload is not None:
    _fastload.prepare(tuple(struct for struct, _raw in STRUCTS.values()))
