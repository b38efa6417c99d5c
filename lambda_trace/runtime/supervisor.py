"""`Environment`: Lambda's service side. Sends invocations to an execution environment, and starts
a fresh one (a cold start) after a timeout, a crash or a reclaim.

By default the environment runs in a child process, so a handler that calls `os._exit()`, crashes
or hangs past its deadline cannot take the trace with it: the supervisor writes what the dead
environment could not (its `env.shutdown`, the work lost). `isolate=False` runs it in-process
(for unit tests; same events).
"""

from __future__ import annotations

import contextlib
import os
import random
import select
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import IO, Any, Protocol

import orjson

from .. import __version__
from ..model.reader import TraceReader
from ..model.writer import TraceWriter
from .core import EnvironmentRuntime, EnvState, RuntimeConfig
from .handler import check_handler_spec
from .invocation import EnvironmentExit, InvokeResult

WATCHDOG_GRACE_S = 5.0
"""Real seconds past the deadline before a stuck environment process is killed."""


class Environment:
    """A Lambda function's execution environments, invocation after invocation, traced to a file."""

    def __init__(
        self,
        handler: str,
        *,
        output: str | os.PathLike[str],
        profile: str = "node",
        clock: str = "wall",
        timeout_ns: int = 3_000_000_000,
        freeze_for_ns: int = 1_000_000_000,
        thaw_order: str = "timers-first",
        record_payloads: bool = False,
        deterministic: bool = False,
        seed: int | None = None,
        reclaim_after: int | None = None,
        isolate: bool = True,
        fsync: bool = False,
        watchdog_grace_s: float = WATCHDOG_GRACE_S,
    ) -> None:
        spec = check_handler_spec(handler)
        if deterministic:
            clock = "virtual"
            seed = 0 if seed is None else seed
        self.config = RuntimeConfig(
            handler=handler,
            profile=profile,
            clock=clock,
            timeout_ns=timeout_ns,
            freeze_for_ns=freeze_for_ns,
            thaw_order=thaw_order,
            record_payloads=record_payloads,
        )
        self.path = Path(output)
        self.isolate = isolate
        self.watchdog_grace_s = watchdog_grace_s
        self.reclaim_after = reclaim_after
        self._rng = random.Random(seed) if seed is not None else None
        options: dict[str, Any] = {
            "timeout_ns": timeout_ns,
            "freeze_for_ns": freeze_for_ns,
            "thaw_order": thaw_order,
            "record_payloads": record_payloads,
            "deterministic": deterministic,
            "seed": seed,
            "reclaim_after": reclaim_after,
        }
        header = {
            "profile": profile,
            "handler": _display_handler(handler, spec.file),
            "clock": clock,
            "options": options,
            "tool": f"lambda-trace {__version__}",
            "created": None if deterministic else time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        try:
            open(self.path, "wb").close()
        except OSError as exc:
            raise OSError(f"cannot write trace {self.path}: {exc.strerror}") from None
        writer = TraceWriter(self.path, header, fsync=fsync)
        writer.close()
        if writer.failed:
            raise OSError(f"cannot write trace {self.path}")
        self._state = EnvState(
            env=0,
            trace_path=str(self.path),
            next_seq=1,
            last_ts=0,
            next_work_id=1,
            origin_monotonic_ns=time.monotonic_ns(),
        )
        self._backend: _Backend | None = None
        self.index = 0

    # -- public API -----------------------------------------------------------------------------

    def invoke(self, event: Any = None) -> InvokeResult:
        """Run the next invocation (cold-starting an environment if none is alive)."""
        event = {} if event is None else event
        if self._backend is None:
            self._state.env += 1
            self._state.invocations = 0
            backend: _Backend = (
                _ChildBackend(self.config, self._state, self.watchdog_grace_s)
                if self.isolate
                else _InProcessBackend(self.config, self._state)
            )
            self._backend = backend
            backend.start()
        self.index += 1
        result = self._backend.invoke(self.index, self._request_id(), event)
        self._state = self._backend.state
        if not self._backend.alive:
            self._backend = None
        elif self.reclaim_after and self._state.invocations >= self.reclaim_after:
            self._end("spindown")
        return result

    def shutdown(self, reason: str = "end") -> None:
        """End the environment (reason `end` when a recording stops); pending work is lost."""
        self._end(reason)

    def __enter__(self) -> Environment:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown("end")

    def _end(self, reason: str) -> None:
        if self._backend is not None:
            self._backend.shutdown(reason)
            self._state = self._backend.state
            self._backend = None

    def _request_id(self) -> str:
        if self._rng is None:
            return str(uuid.uuid4())
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))


def _display_handler(handler: str, file: str | None) -> str:
    """The handler as written in the header: relative when it is a file under the current folder."""
    if file is None:
        return handler
    rel = os.path.relpath(file)
    function = handler.rpartition(":")[2]
    return f"{rel if not rel.startswith('..') else os.path.basename(file)}:{function}"


class _Backend(Protocol):
    state: EnvState
    alive: bool

    def start(self) -> None: ...
    def invoke(self, index: int, request_id: str, event: Any) -> InvokeResult: ...
    def shutdown(self, reason: str) -> None: ...


class _InProcessBackend:
    def __init__(self, config: RuntimeConfig, state: EnvState) -> None:
        self.runtime = EnvironmentRuntime(config, state)
        self.state = state
        self.alive = True

    def start(self) -> None:
        self.runtime.init()
        self.state = self.runtime.snapshot()

    def invoke(self, index: int, request_id: str, event: Any) -> InvokeResult:
        try:
            result = self.runtime.invoke(index, request_id, event)
        except EnvironmentExit as ended:
            result = ended.result or InvokeResult(index, request_id, False, outcome="crash")
            result.pending = self.runtime.shutdown(ended.reason, ended.exit_code)
            result.env_alive = self.alive = False
            self.state = self.runtime.snapshot()
            self.runtime.close()
            return result
        self.state = self.runtime.snapshot()
        return result

    def shutdown(self, reason: str) -> None:
        self.runtime.shutdown(reason)
        self.state = self.runtime.snapshot()
        self.runtime.close()
        self.alive = False


class _ChildBackend:
    """The environment in a child process, spoken to over a pair of pipes."""

    def __init__(self, config: RuntimeConfig, state: EnvState, grace_s: float) -> None:
        self.config = config
        self.state = state
        self.alive = True
        self.hung = False
        self.grace_s = grace_s
        self._env_start_offset = _file_size(state.trace_path)
        self._current: tuple[int, str] | None = None
        cmd_r, cmd_w = os.pipe()
        rep_r, rep_w = os.pipe()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "lambda_trace.runtime.worker", str(cmd_r), str(rep_w)],
            pass_fds=(cmd_r, rep_w),
            stdin=subprocess.DEVNULL,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        os.close(cmd_r)
        os.close(rep_w)
        self._commands: IO[bytes] = os.fdopen(cmd_w, "wb")
        self._replies: IO[bytes] = os.fdopen(rep_r, "rb")

    def _request(self, message: dict[str, Any], wait_s: float | None) -> dict[str, Any] | None:
        try:
            self._commands.write(orjson.dumps(message) + b"\n")
            self._commands.flush()
        except BrokenPipeError:
            return None
        self.hung = False
        if wait_s is not None:
            ready, _, _ = select.select([self._replies], [], [], wait_s)
            if not ready:
                self.hung = True
                return None
        line = self._replies.readline()
        return orjson.loads(line) if line else None

    def start(self) -> None:
        reply = self._request(
            {"op": "start", "config": self.config.to_dict(), "state": self.state.to_dict()},
            None,
        )
        if reply is None:
            self._died(None)
            return
        self.state = EnvState(**reply["state"])

    def invoke(self, index: int, request_id: str, event: Any) -> InvokeResult:
        if not self.alive:
            return InvokeResult(index, request_id, True, outcome="crash", env_alive=False)
        self._current = (index, request_id)
        watchdog = self.config.timeout_ns / 1e9 + self.grace_s
        reply = self._request(
            {"op": "invoke", "index": index, "request_id": request_id, "event": event}, watchdog
        )
        if reply is None:
            return self._died(watchdog)
        self.state = EnvState(**reply["state"])
        result = InvokeResult(**reply["result"])
        if not reply["alive"]:
            self.alive = False
            self._reap()
        return result

    def shutdown(self, reason: str) -> None:
        if self.alive:
            reply = self._request({"op": "shutdown", "reason": reason}, 30.0)
            if reply is not None:
                self.state = EnvState(**reply["state"])
            self.alive = False
        self._reap()

    def _reap(self) -> None:
        with contextlib.suppress(OSError):
            self._commands.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        with contextlib.suppress(OSError):
            self._replies.close()

    def _died(self, watchdog: float | None) -> InvokeResult:
        """The process died or hung: write the records it could not, from what is on disk."""
        timed_out = watchdog is not None and self.hung
        if timed_out:
            self.proc.kill()
        self._reap()
        self.alive = False
        code = self.proc.returncode
        index, request_id = self._current or (0, "")
        recovered = _recover(self.state.trace_path, self._env_start_offset, index)
        state = self.state
        now = time.monotonic_ns() - state.origin_monotonic_ns + state.offset_ns
        ts = recovered.last_ts if self.config.clock == "virtual" else max(recovered.last_ts, now)
        writer = TraceWriter(
            state.trace_path,
            {},
            append=True,
            next_seq=recovered.next_seq,
            last_ts=recovered.last_ts,
            clock=lambda: ts,
        )
        inv = index or None
        result = InvokeResult(index, request_id, recovered.cold, env_alive=False)
        if recovered.in_invocation and not recovered.ended:
            if timed_out:
                seconds = self.config.timeout_ns / 1e9
                error = ("Sandbox.Timedout", f"Task timed out after {seconds:.2f} seconds")
                outcome = "timeout"
            else:
                status = (
                    f"exit status {code}"
                    if code is not None and code >= 0
                    else f"signal {-code if code else '?'}"
                )
                error = (
                    "Runtime.ExitError",
                    f"RequestId: {request_id} Error: Runtime exited with error: {status}",
                )
                outcome = "crash"
            writer.emit(
                "respond.post",
                inv,
                {"via": None, "status": "error", "held_ns": 0, "held_by": [],
                 "error_type": error[0], "error_message": error[1]},
            )  # fmt: skip
            writer.emit(
                "invoke.end",
                inv,
                {"request_id": request_id, "outcome": outcome,
                 "duration_ns": max(0, ts - recovered.invoke_start_ts),
                 "error_type": error[0], "error_message": error[1]},
            )  # fmt: skip
            result.outcome, result.error_type, result.error_message = outcome, *error
        reason = "timeout" if timed_out else ("exit" if code is not None and code >= 0 else "crash")
        fields: dict[str, Any] = {"reason": reason, "lost": recovered.pending}
        if code is not None and not timed_out:
            fields["exit_code"] = code
        writer.emit("env.shutdown", inv, fields)
        writer.close()
        result.pending = recovered.pending
        result.exit_code = code
        self.state.next_seq = writer.next_seq
        self.state.last_ts = ts
        self.state.next_work_id = max(self.state.next_work_id, recovered.max_work + 1)
        return result


class _Recovered:
    def __init__(self) -> None:
        self.next_seq = 1
        self.last_ts = 0
        self.pending: list[int] = []
        self.in_invocation = False
        self.ended = False
        self.cold = False
        self.invoke_start_ts = 0
        self.max_work = 0


def _file_size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _recover(path: str, env_start: int, index: int) -> _Recovered:
    """Cut a torn last line, then read the dead environment's part of the trace."""
    out = _Recovered()
    with open(path, "rb+") as fh:
        data_end = fh.seek(0, os.SEEK_END)
        tail_start = max(0, data_end - 65536)
        fh.seek(tail_start)
        tail = fh.read()
        if tail and not tail.endswith(b"\n"):
            cut = tail.rfind(b"\n")
            fh.truncate(tail_start + cut + 1 if cut >= 0 else tail_start)
    live: set[int] = set()
    with TraceReader(path) as reader:
        out.next_seq = reader.header["seq"] + 1
        for _line, offset, ev in reader.iter_with_lines():
            out.next_seq = ev["seq"] + 1
            out.last_ts = max(out.last_ts, ev["ts"])
            if offset < env_start:
                continue
            kind = ev["kind"]
            if kind == "work.create":
                live.add(ev["work"])
                out.max_work = max(out.max_work, ev["work"])
            elif kind == "work.done":
                live.discard(ev["work"])
            elif kind == "invoke.start" and ev["inv"] == index:
                out.in_invocation, out.cold, out.invoke_start_ts = True, ev["cold"], ev["ts"]
            elif kind == "invoke.end" and ev["inv"] == index:
                out.ended = True
    out.pending = sorted(live)
    return out
