"""Records units of work: ids, creation sites, steps, and the invocation that created each one.

Attribution uses a context variable: tasks and callbacks copy the context they were created in, so
work started by invocation n keeps `created_in = n` even when it runs (or creates more work) later.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import os
import sys
import threading
from collections.abc import Callable
from types import CodeType, FrameType
from typing import TYPE_CHECKING, Any

import orjson

from ..model.writer import FLUSH_BYTES, TraceWriter, inv_bytes, work_kind
from ._accel import fastrec
from .clock import STEP_TICK_NS, EmulatedClock

created_in_var: contextvars.ContextVar[int] = contextvars.ContextVar("lambda_trace_inv", default=0)
"""The invocation whose handler (directly or through work it started) is running."""

BEGIN = work_kind("work.begin")
END = work_kind("work.end")
_CREATE_HEAD = b'"kind":"work.create","inv":%s,"work":%d,"parent":%s,%s,"created_in":%s'
_DONE_LINE = b'"kind":"work.done","inv":%s,"work":%d,"status":"%s"}\n'
"""work.done without an error, as `writer.emit` would encode it (one a unit of work)."""
_DONE_STATUS = {"ok": b"ok", "cancelled": b"cancelled"}
WHAT_CACHE = 4096
"""Distinct (type, name, site, stack) JSON fragments kept: creation sites, not work units."""

RUNTIME_SITE = "<runtime>"
"""Site of work created with no handler code on the stack."""

STACK_DEPTH = 6
"""User frames kept per creation stack: enough to see who called, small enough to stay cheap."""

_RUNTIME_DIR = os.path.dirname(os.path.abspath(__file__))
_INTERNAL_DIRS = (
    *(os.path.dirname(os.path.abspath(m.__file__ or "")) for m in (asyncio, concurrent.futures)),
    _RUNTIME_DIR,
)
_INTERNAL_FILES = frozenset(
    os.path.abspath(f)
    for f in (threading.__file__, contextvars.__file__ or "", __import__("selectors").__file__)
    if f
)


if TYPE_CHECKING:
    _WorkInfoBase = object
else:
    # With the accelerator the fields are C members, so the C task factory fills a WorkInfo
    # without running __init__ (which must stay: store the six fields, nothing else).
    _WorkInfoBase = object if fastrec is None else fastrec.WorkInfoBase
_WORK_SLOTS = ("created_in", "id", "name", "ref", "site", "type") if fastrec is None else ()


class WorkInfo(_WorkInfoBase):
    """What the tracer keeps about a unit of work while it is not finished."""

    __slots__ = _WORK_SLOTS

    def __init__(
        self, work_id: int, type_: str, name: str, created_in: int, ref: bool, site: str
    ) -> None:
        self.site = site
        self.id = work_id
        self.type = type_
        self.name = name
        self.created_in = created_in
        self.ref = ref


class Tracer:
    """Emits work events for one environment process through the trace writer."""

    def __init__(
        self,
        writer: TraceWriter,
        clock: EmulatedClock,
        *,
        root: str,
        next_work_id: int = 1,
    ) -> None:
        self.writer = writer
        self.clock = clock
        self.root = os.path.abspath(root)
        self._invocation: int | None = 0
        self.inv_b = inv_bytes(0)
        """The current invocation pre-encoded for the writer's fast paths."""
        self.request_id: str | None = None
        """Request id the runtime tags log lines with (updated when it starts the handler)."""
        self.live: dict[int, WorkInfo] = {}
        self.current_work: int | None = None
        """Work running on the loop thread (None: the runtime itself)."""
        self.loop_thread = threading.get_ident()
        self._tls = threading.local()
        self._next_id = next_work_id
        self._ids_lock = threading.Lock()
        # Keyed on (code, its file): on 3.11 code objects compare equal across files when the
        # functions are identical, line numbers included.
        self._internal: dict[tuple[CodeType, str], bool] = {}
        self._frames: dict[tuple[CodeType, str, int], str] = {}
        self._entries: dict[tuple[CodeType, str, int], tuple[str, str]] = {}
        """Keyed on (code, f_lasti): the offset is free to read, `f_lineno` costs a lookup."""
        self._what: dict[tuple[str, str, str, tuple[str, ...]], bytes] = {}
        self.core: Any = None
        """The C accelerator's writer core when it drives this writer (see `_accel`): it also
        hands out work ids, so that ids stay unique without the lock in its fast paths."""
        # Only when the writer's time is this clock: the core reads it from the C fields.
        if (
            fastrec is not None
            and isinstance(clock, fastrec.ClockBase)
            and writer._clock == clock.now_ns
            and writer.attach(
                lambda seq, ts: fastrec.Core(
                    clock, seq, ts, next_work_id, STEP_TICK_NS, FLUSH_BYTES
                )
            )
        ):
            self.core = writer._core

    @property
    def invocation(self) -> int | None:
        """Invocation current for the runtime (the `inv` of every event)."""
        return self._invocation

    @invocation.setter
    def invocation(self, value: int | None) -> None:
        self._invocation = value
        self.inv_b = inv_bytes(value)

    # -- events ---------------------------------------------------------------------------------

    def emit(self, kind: str, fields: dict[str, Any] | None = None) -> int:
        return self.writer.emit(kind, self.invocation, fields)

    @property
    def next_work_id(self) -> int:
        return self._next_id if self.core is None else int(self.core.next_id)

    def current(self) -> int | None:
        """The work running on the calling thread, if any."""
        if threading.get_ident() == self.loop_thread:
            return self.current_work
        return getattr(self._tls, "work", None)

    def set_thread_work(self, work: int | None) -> None:
        self._tls.work = work

    def create(
        self,
        type_: str,
        name: str,
        *,
        parent: int | None = None,
        ref: bool = True,
        delay_ns: int | None = None,
        role: str | None = None,
        frame: FrameType | None = None,
        created_in: int | None = None,
        code: CodeType | None = None,
    ) -> int:
        """Register a new unit of work and write its `work.create`; returns its id."""
        core = self.core
        if core is not None:
            work_id: int = core.alloc_id()
        else:
            with self._ids_lock:
                work_id = self._next_id
                self._next_id = work_id + 1
        if created_in is None:
            created_in = created_in_var.get()
        if code is not None:
            site, stack = self._format(code, code.co_firstlineno), list[str]()
        else:
            site, stack = self.site_and_stack(frame or sys._getframe(1))
            if site == RUNTIME_SITE and parent in self.live:
                # Made by asyncio on behalf of a unit of work (a transport's reader): its site.
                site = self.live[parent].site
        self.live[work_id] = WorkInfo(work_id, type_, name, created_in, ref, site)
        # The line is the JSON of {work, parent, type, name, site, stack, created_in, ...} in
        # that order; the part that repeats from a creation site is encoded once (the recording
        # benchmark creates 200,000 tasks from one line).
        what = self._what_of(type_, name, site, stack)
        head = _CREATE_HEAD % (self.inv_b, work_id, inv_bytes(parent), what, inv_bytes(created_in))
        if delay_ns is None and ref and role is None:
            tail = b"}\n"
        else:
            extra: dict[str, Any] = {}
            if delay_ns is not None:
                extra["delay_ns"] = delay_ns
            if not ref:
                extra["ref"] = False
            if role is not None:
                extra["role"] = role
            tail = b"," + orjson.dumps(extra)[1:] + b"\n"
        self.writer.emit_raw(head, tail)
        return work_id

    def _what_of(self, type_: str, name: str, site: str, stack: list[str]) -> bytes:
        key = (type_, name, site, tuple(stack))
        what = self._what.get(key)
        if what is None:
            what = orjson.dumps({"type": type_, "name": name, "site": site, "stack": stack})[1:-1]
            if len(self._what) < WHAT_CACHE:
                self._what[key] = what
        return what

    def _site_what(self, type_: str, name: str, frame: FrameType) -> tuple[str, bytes]:
        """The C creation path's cache miss: the site and `what` JSON of a creation at `frame`."""
        site, stack = self.site_and_stack(frame)
        return site, self._what_of(type_, name, site, stack)

    def begin(self, work: int) -> None:
        self.writer.emit_work(BEGIN, self.inv_b, work)

    def end(self, work: int) -> None:
        self.clock.tick()
        self.writer.emit_work(END, self.inv_b, work)

    def done(self, work: int, status: str, error: BaseException | None = None) -> None:
        if self.live.pop(work, None) is None:
            return
        if error is None:
            encoded = _DONE_STATUS.get(status)
            if encoded is not None:
                self.writer.emit_raw(_DONE_LINE % (self.inv_b, work, encoded), b"")
                return
        fields: dict[str, Any] = {"work": work, "status": status}
        if error is not None:
            fields["error_type"] = type(error).__name__
            fields["error_message"] = str(error)
        self.writer.emit("work.done", self.invocation, fields)

    def cancel(self, work: int, reason: str | None = None) -> None:
        if work not in self.live:
            return
        fields: dict[str, Any] = {"work": work}
        if reason is not None:
            fields["reason"] = reason
        self.writer.emit("work.cancel", self.invocation, fields)

    def set_ref(self, work: int, ref: bool) -> None:
        info = self.live.get(work)
        if info is None or info.ref == ref:
            return
        info.ref = ref
        self.writer.emit("work.ref", self.invocation, {"work": work, "ref": ref})

    def rename(self, work: int, name: str) -> None:
        info = self.live.get(work)
        if info is None or info.name == name:
            return
        info.name = name
        self.writer.emit("work.name", self.invocation, {"work": work, "name": name})

    def pending(self) -> list[int]:
        """Ids of every unit of work not finished, in creation order."""
        return sorted(self.live)

    def step(self, work: int, fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
        """Run `fn(*args)` as one step of `work` on the loop thread: work.begin, `work` current
        for logs and parents, work.end (also when it raises). Task steps, the hottest path, do
        the same inline in `TracedLoop._run_task_step`."""
        self.begin(work)
        previous = self.current_work
        self.current_work = work
        try:
            return fn(*args)
        finally:
            self.current_work = previous
            self.end(work)

    # -- creation sites -------------------------------------------------------------------------

    def _is_internal(self, code: CodeType) -> bool:
        internal = self._internal.get((code, code.co_filename))
        if internal is None:
            path = os.path.abspath(code.co_filename)
            internal = (
                path in _INTERNAL_FILES
                or path.startswith(_INTERNAL_DIRS)
                or code.co_filename.startswith("<frozen ")
            )
            self._internal[code, code.co_filename] = internal
        return internal

    def _code_kind(self, code: CodeType) -> int:
        """For the C frame walk: 0 user code, 1 internal, 2 internal in the runtime itself."""
        if not self._is_internal(code):
            return 0
        return 2 if code.co_filename.startswith(_RUNTIME_DIR) else 1

    def _format(self, code: CodeType, line: int) -> str:
        key = (code, code.co_filename, line)
        text = self._frames.get(key)
        if text is None:
            text = f"{self.display_path(code.co_filename)}:{line}"
            self._frames[key] = text
        return text

    def display_path(self, filename: str) -> str:
        """Path as shown in traces: relative to the handler's root, never an absolute home path."""
        path = os.path.abspath(filename)
        if path.startswith(self.root + os.sep):
            return os.path.relpath(path, self.root)
        parts = path.split(os.sep)
        return os.sep.join(parts[-2:]) if len(parts) > 1 else path

    def _entry(self, frame: FrameType) -> tuple[str, str]:
        """(`file:line`, `file:line in function`) of a frame, formatted once per instruction."""
        code = frame.f_code
        key = (code, code.co_filename, frame.f_lasti)
        entry = self._entries.get(key)
        if entry is None:
            site = self._format(code, frame.f_lineno)
            entry = (site, f"{site} in {code.co_name}")
            self._entries[key] = entry
        return entry

    def site_and_stack(self, frame: FrameType | None) -> tuple[str, list[str]]:
        """`file:line` of the first frame in user code, and up to STACK_DEPTH user frames."""
        stack: list[str] = []
        site = RUNTIME_SITE
        internal = self._internal
        entries = self._entries
        # Skip the runtime's and asyncio's frames up to the user's code, then keep user frames
        # until control goes back into them: above that is only the loop and the runtime.
        while frame is not None and len(stack) < STACK_DEPTH:
            code = frame.f_code
            is_internal = internal.get((code, code.co_filename))
            if is_internal is None:
                is_internal = self._is_internal(code)
            if is_internal:
                if stack or code.co_filename.startswith(_RUNTIME_DIR):
                    break  # above the user's frames, or the runtime itself: nothing of theirs
            else:
                cached = entries.get((code, code.co_filename, frame.f_lasti))
                where, entry = cached if cached is not None else self._entry(frame)
                if not stack:
                    site = where
                stack.append(entry)
            frame = frame.f_back
        return site, stack
