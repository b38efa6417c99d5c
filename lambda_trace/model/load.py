"""One-pass trace loader: orjson per line into array columns, invocations and works, then analysis.

Accepts and rejects exactly what `TraceReader` does, with the same diagnostics (proved by
tests/model/test_load_equivalence.py), but reads in 1 MiB chunks, checks events with the compiled
checks of `fastcheck.py` and keeps no dict per event: that is what makes it ~2x the cost of bare
`orjson.loads` (measured by tests/benchmarks/bench_load.py).
"""

from __future__ import annotations

import gzip
import os
import sys
import time
import zlib
from bisect import insort
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from .analysis import analyse
from .check import check_event
from .fastcheck import FAST_CHECKS
from .reader import MAX_LINE, TraceReader, _why
from .trace import (
    KIND_CODES,
    OPAQUE,
    Env,
    EventColumns,
    Freeze,
    Invocation,
    SpanStore,
    Trace,
    Work,
    file_size,
)

Progress = Callable[[int, int], None]
"""Called with (bytes read, total bytes) about every `PROGRESS_EVERY_S` seconds, and at the end."""
PROGRESS_EVERY_S = 0.25
CHUNK = 1024 * 1024

_BEGIN = KIND_CODES["work.begin"]
_END = KIND_CODES["work.end"]
_LOG = KIND_CODES["log"]
_CREATE = KIND_CODES["work.create"]
_DONE = KIND_CODES["work.done"]
_CANCEL = KIND_CODES["work.cancel"]
_REF = KIND_CODES["work.ref"]
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

    work: int
    inv: int
    count: int
    first_ns: int
    request_id: str | None
    text: str


@dataclass(slots=True)
class ErrorNote:
    """An error event billed to an invocation other than the one that created its work."""

    ts: int
    work: int
    billed: int
    type: str
    message: str
    fatal: bool


@dataclass
class LoadNotes:
    """Facts the pass collects for the analysis that the Trace itself does not keep."""

    logs: dict[tuple[int, int], LogNote] = field(default_factory=dict)
    errors: list[ErrorNote] = field(default_factory=list)


def load_trace(
    path: str | os.PathLike[str], *, progress: Progress | None = None, max_line: int = MAX_LINE
) -> Trace:
    """Load and analyse a trace in one pass, tolerating bad lines (see `Trace.diagnostics`).

    Raises `TraceFormatError` when the file is not a trace (missing, unreadable, bad header).
    """
    reader = TraceReader(path, max_line=max_line)
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
        self.spans = SpanStore()
        self.works: dict[int, Work] = {}
        self.invocations: list[Invocation] = []
        self.inv_by_index: dict[int, Invocation] = {}
        self.envs: list[Env] = []
        self.env: Env | None = None
        self.freezes: list[Freeze] = []
        self.n_freezes = 0
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
        last_report = time.monotonic()
        carry = b""
        skipping = -1  # offset of a too-long line being skipped, or -1
        skipped = 0
        max_line = self.max_line
        while True:
            try:
                chunk = stream.read(CHUNK)
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
            lines = (carry + chunk).split(b"\n") if carry else chunk.split(b"\n")
            carry = lines.pop()
            if len(carry) > max_line:
                skipping, skipped = self.offset + sum(len(x) + 1 for x in lines), len(carry)
                carry = b""
            self.feed(lines, True)
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

    def feed(self, lines: list[bytes], complete: bool) -> None:
        """Check and index a batch of lines (hot loop: locals only, rare kinds in `_other`)."""
        loads = orjson.loads
        decode_error = orjson.JSONDecodeError
        fast = FAST_CHECKS
        codes = KIND_CODES
        report = self.reader._report
        cols = self.cols
        seq_append = cols.seq.append
        ts_append = cols.ts.append
        kind_append = cols.kind.append
        inv_append = cols.inv.append
        work_append = cols.work.append
        off_append = cols.offset.append
        spans = self.spans
        sb, se, si, sn = spans.begin.append, spans.end.append, spans.inv.append, spans.next.append
        span_next = spans.next
        works = self.works
        other = self._other
        max_line = self.max_line
        newline = 1 if complete else 0
        line_no = self.line_no
        offset = self.offset
        last_seq = self.last_seq
        last_ts = self.last_ts
        for line in lines:
            line_no += 1
            off = offset
            n = len(line)
            offset += n + newline
            if n > max_line:
                report(
                    line_no,
                    off,
                    f"line is {n + newline:,} bytes, over the {max_line:,}-byte limit; skipped",
                )
                continue
            try:
                obj = loads(line)
            except decode_error:
                self._bad_json(line_no, off, line, complete)
                continue
            kind: Any = obj.get("kind") if type(obj) is dict else None
            check = fast.get(kind) if type(kind) is str else None
            if check is not None and check(obj):
                code = codes[kind]
                if code == _TRACE_START:
                    report(line_no, off, "second trace.start header (two traces concatenated?)")
                    continue
            else:
                problem = check_event(obj)
                if problem is not None:
                    report(line_no, off, problem)
                    continue
                report(
                    line_no, off, f"unknown event kind {kind!r}, kept as an opaque event", "warning"
                )
                code = OPAQUE
            seq = obj["seq"]
            ts = obj["ts"]
            inv = obj["inv"]
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
            seq_append(seq)
            ts_append(ts)
            kind_append(code)
            inv_append(-1 if inv is None else inv)
            off_append(off)
            if code == _BEGIN:
                wid = obj["work"]
                work_append(wid)
                w = works.get(wid)
                if w is None:
                    w = self._unknown_work(wid, ts, inv)
                w.open_ns = ts
                if inv is None:
                    w.open_inv = -1
                    continue
                w.open_inv = inv
                ran = w.ran_in
                if not ran or ran[-1] < inv:
                    ran.append(inv)
                elif inv not in ran:
                    insort(ran, inv)
                if (
                    inv != w.created_in
                    and w.cross_ns < 0
                    and self.n_freezes > w.freezes_at_create
                    and w.created_in is not None
                ):
                    w.cross_ns = ts
                    w.cross_inv = inv
            elif code == _END:
                wid = obj["work"]
                work_append(wid)
                w = works.get(wid)
                if w is not None and w.open_ns >= 0:
                    sb(w.open_ns)
                    se(ts)
                    si(w.open_inv)
                    sn(-1)
                    i = len(span_next) - 1
                    if w.span_tail >= 0:
                        span_next[w.span_tail] = i
                    else:
                        w.span_head = i
                    w.span_tail = i
                    w.open_ns = -1
            elif code == _LOG:
                wid = obj.get("work")
                if wid is None:
                    work_append(-1)
                    continue
                work_append(wid)
                w = works.get(wid)
                if (
                    w is not None
                    and inv is not None
                    and inv != w.created_in
                    and inv >= 1
                    and w.created_in is not None
                    and w.created_in >= 1
                ):
                    self._log_note(w, obj, ts, inv)
            else:
                work_append(other(code, obj, ts, inv))
        self.line_no = line_no
        self.offset = offset
        self.last_seq = last_seq
        self.last_ts = last_ts

    # -- less frequent kinds ---------------------------------------------------------------------

    def _unknown_work(self, wid: int, ts: int, inv: int | None) -> Work:
        # A step of work whose work.create is missing (a damaged trace): keep what we can.
        w = Work(wid, "?", f"work {wid}", "?", (), None, inv, ts, self._env_id(), store=self.spans)
        w.freezes_at_create = self.n_freezes
        self.works[wid] = w
        return w

    def _env_id(self) -> int | None:
        return self.env.env if self.env is not None else None

    def _close_span(self, w: Work, ts: int) -> None:
        if w.open_ns < 0:
            return
        i = self.spans.add(w.open_ns, ts, w.open_inv)
        if w.span_tail >= 0:
            self.spans.next[w.span_tail] = i
        else:
            w.span_head = i
        w.span_tail = i
        w.open_ns = -1

    def _log_note(self, w: Work, obj: dict[str, Any], ts: int, inv: int) -> None:
        key = (w.id, inv)
        note = self.notes.logs.get(key)
        if note is None:
            text = obj["text"]
            self.notes.logs[key] = LogNote(w.id, inv, 1, ts, obj["request_id"], text[:200])
        else:
            note.count += 1

    def _other(self, code: int, obj: dict[str, Any], ts: int, inv: int | None) -> int:
        """Index one event of a less frequent kind; returns the work id it names, or -1."""
        if code == _CREATE:
            wid: int = obj["work"]
            if wid not in self.works:
                stack = tuple(sys.intern(s) for s in obj["stack"])
                stack = self.stacks.setdefault(stack, stack)
                w = Work(
                    wid,
                    sys.intern(obj["type"]),
                    sys.intern(obj["name"]),
                    sys.intern(obj["site"]),
                    stack,
                    obj["parent"],
                    obj["created_in"],
                    ts,
                    self._env_id(),
                    role=obj.get("role"),
                    ref=obj.get("ref", True),
                    delay_ns=obj.get("delay_ns"),
                    freezes_at_create=self.n_freezes,
                    store=self.spans,
                )
                self.works[wid] = w
                if w.role == "handler" and inv is not None:
                    current = self.inv_by_index.get(inv)
                    if current is not None and current.handler_work is None:
                        current.handler_work = wid
            return wid
        if code == _DONE:
            wid = obj["work"]
            w = self.works.get(wid) or self._unknown_work(wid, ts, inv)
            self._close_span(w, ts)
            if w.done_ns is None:
                w.done_ns = ts
                w.status = obj["status"]
                w.error_type = obj.get("error_type")
                w.error_message = obj.get("error_message")
            return wid
        if code == _CANCEL:
            wid = obj["work"]
            w = self.works.get(wid) or self._unknown_work(wid, ts, inv)
            if w.cancel_ns is None:
                w.cancel_ns = ts
                w.cancel_reason = obj.get("reason")
                w.cancel_inv = inv
            return wid
        if code == _REF:
            wid = obj["work"]
            w = self.works.get(wid) or self._unknown_work(wid, ts, inv)
            w.ref = obj["ref"]
            return wid
        if code == _ERROR:
            wid_or_none: int | None = obj["work"]
            billed: int | None = obj["billed"]
            if wid_or_none is None:
                return -1
            w = self.works.get(wid_or_none) or self._unknown_work(wid_or_none, ts, inv)
            if (
                billed is not None
                and w.created_in is not None
                and w.created_in >= 1
                and billed != w.created_in
            ):
                self.notes.errors.append(
                    ErrorNote(
                        ts, w.id, billed, obj["type"], obj["message"], obj.get("fatal", False)
                    )
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
            self.n_freezes += 1
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
            for wid in env.lost:
                lost = self.works.get(wid)
                if lost is not None and lost.done_ns is None and lost.lost_ns is None:
                    self._close_span(lost, ts)
                    lost.lost_ns = ts
            self.env = None
            return -1
        if code == _INIT_START:
            self.env = Env(obj["env"], ts)
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
        reader = self.reader
        end_ns = self.last_ts
        for w in self.works.values():
            if w.open_ns >= 0:  # still running when the trace ends
                self._close_span(w, end_ns)
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
            works_by_id=self.works,
            freezes=self.freezes,
            spans=self.spans,
            start_ns=reader.header["ts"],
            end_ns=end_ns,
        )
        return trace, self.notes


def _position(raw: Any) -> int:
    try:
        return int(raw.tell())
    except (OSError, ValueError, AttributeError):
        return 0
