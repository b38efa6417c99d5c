"""Chrome Trace Event JSON for Perfetto UI and chrome://tracing, written while the trace is read.

Layout:

* one process (`pid` = environment number) per execution environment, named `environment N`;
* in it a thread `invocations` (tid 1) with an `X` slice per INIT phase and per invocation
  (`invoke.start` .. `invoke.end`), and thread-scoped instants for `respond.call`/`respond.post`;
  process-scoped instants for `env.freeze`, `env.thaw`, `env.shutdown` and marks;
* a thread `frozen` (tid 2) with an `X` slice per freeze (`env.freeze` .. `env.thaw`), kept apart
  because a thaw comes after the next `invoke.start`, so on one track the two would overlap;
* a thread per unit of work (tid = 10 + work id, named like `timer write_metrics (app.py:12)`), with
  an `X` slice per `work.begin`/`work.end` step (steps of one unit never overlap) and instants for
  its creation, cancel, done, logs and errors.

Flow policy: one arrow per unit of work that *crossed invocations* (it ran in an invocation later
than the one that created it; the `crossed_invocation` finding). It starts (`s`) at the creation
time on the creating work's track, or on the `invocations` track when the runtime created it, and
ends (`f`, `bp: "e"`) at the start of the unit's first step in a later invocation. Arrows for every
first step would draw one per unit and bury the leaks. All flows share `cat` `leak` and name
`crossed_invocation` (one flow style per file); `args` name `created_in`, `ran_in` and `site`.

Streaming: `X` slices are written when they end, so the output is not sorted by `ts` (viewers sort
on import). State is kept per open unit of work (dropped at `work.done` or the environment's
shutdown) and per environment; everything still open at the end is closed at the last `ts`, with
`args.unfinished = true`.

Times are microseconds (`ts`, `dur`; fractions keep the nanoseconds). Strings from the trace go
through orjson, so any text stays valid JSON.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import IO, Any

import orjson

from .export_common import Dispatcher, ExportStats, ns_to_us, opt_int, work_label

INVOCATIONS_TID = 1
FROZEN_TID = 2
WORK_TID_BASE = 10
"""tid of a unit of work = WORK_TID_BASE + its id (ids are unique in the trace)."""
FLOW_CAT = "leak"
FLOW_NAME = "crossed_invocation"
MAX_LISTED_IDS = 100
"""Work ids listed in a freeze/shutdown's args; the count is always given."""
RECENTLY_DONE = 1024
"""Finished units whose track is remembered: an error or log may follow a unit's `work.done`."""


@dataclass(slots=True)
class _Work:
    pid: int
    tid: int
    type: str
    name: str
    site: str
    created_in: int | None
    create_ts: int
    create_pid: int
    create_tid: int
    begin_ts: int | None = None
    begin_inv: int | None = None
    steps: int = 0
    flowed: bool = False


@dataclass(slots=True)
class _Env:
    pid: int
    init: dict[str, Any] | None = None
    """The open INIT phase: its start event."""
    invocation: dict[str, Any] | None = None
    """The open invocation: its `invoke.start` plus what its response said."""
    freeze: dict[str, Any] | None = None
    """The open freeze: its `env.freeze` event."""
    work: set[int] = field(default_factory=set)
    phase_end: int = 0
    """End of the last slice on `invocations`; a start inferred from a duration never precedes it."""
    frozen_end: int = 0
    """The same for `frozen`."""


class _Output:
    """Writes `{"traceEvents": [...], ...}` one element at a time."""

    def __init__(self, out: IO[bytes], stats: ExportStats) -> None:
        self._out = out
        self._stats = stats
        self._first = True
        out.write(b'{"traceEvents":[\n')

    def event(self, record: dict[str, Any]) -> None:
        data = orjson.dumps(record, default=str)
        self._out.write(data if self._first else b",\n" + data)
        self._first = False
        self._stats.written += 1

    def finish(self, metadata: dict[str, Any]) -> None:
        self._out.write(b'\n],"displayTimeUnit":"ns","metadata":')
        self._out.write(orjson.dumps(metadata, default=str))
        self._out.write(b"}\n")


class _PerfettoExporter(Dispatcher):
    def __init__(self, out: _Output, stats: ExportStats) -> None:
        self.out = out
        super().__init__(stats)
        self.envs: dict[int, _Env] = {}
        self.work: dict[int, _Work] = {}
        self.done: dict[int, tuple[int, int]] = {}
        """Recently finished work id -> (pid, tid), oldest first."""
        self.env: _Env | None = None

    # -- tracks -------------------------------------------------------------------------------

    def _meta(self, pid: int, tid: int, name: str, args: dict[str, Any]) -> None:
        self.out.event({"ph": "M", "pid": pid, "tid": tid, "name": name, "args": args})

    def env_for(self, number: int | None) -> _Env:
        """The environment `number` (or the current one), naming its process and tracks once."""
        if number is None:
            if self.env is not None:
                return self.env
            number = 0
        env = self.envs.get(number)
        if env is None:
            env = self.envs[number] = _Env(pid=number)
            label = f"environment {number}" if number else "outside environments"
            self._meta(number, INVOCATIONS_TID, "process_name", {"name": label})
            self._meta(number, INVOCATIONS_TID, "process_sort_index", {"sort_index": number})
            self._meta(number, INVOCATIONS_TID, "thread_name", {"name": "invocations"})
            self._meta(number, INVOCATIONS_TID, "thread_sort_index", {"sort_index": 0})
            self._meta(number, FROZEN_TID, "thread_name", {"name": "frozen"})
            self._meta(number, FROZEN_TID, "thread_sort_index", {"sort_index": 1})
        self.env = env
        return env

    # -- output primitives --------------------------------------------------------------------

    def slice(
        self, pid: int, tid: int, name: str, cat: str, start: int, end: int, args: dict[str, Any]
    ) -> None:
        self.out.event(
            {
                "ph": "X",
                "pid": pid,
                "tid": tid,
                "name": name,
                "cat": cat,
                "ts": ns_to_us(start),
                "dur": ns_to_us(max(0, end - start)),
                "args": args,
            }
        )

    def instant(
        self, pid: int, tid: int, name: str, cat: str, ts: int, scope: str, args: dict[str, Any]
    ) -> None:
        self.out.event(
            {
                "ph": "i",
                "pid": pid,
                "tid": tid,
                "name": name,
                "cat": cat,
                "ts": ns_to_us(ts),
                "s": scope,
                "args": args,
            }
        )

    # -- events -------------------------------------------------------------------------------

    def on_init_start(self, ev: dict[str, Any], ts: int) -> None:
        env = self.env_for(opt_int(ev.get("env")))
        self._close_phase(env, ts)
        env.init = ev

    def _close_phase(self, env: _Env, ts: int) -> None:
        """End an open INIT or invocation early: two on one track would overlap (cut traces)."""
        if env.invocation is not None:
            self._close_invocation(env, ts, unfinished=True)
        if env.init is not None:
            args = {"unfinished": True}
            self.slice(env.pid, INVOCATIONS_TID, "init", "init", env.init["ts"], ts, args)
            env.init = None
            env.phase_end = ts

    def on_init_end(self, ev: dict[str, Any], ts: int) -> None:
        env = self.env_for(opt_int(ev.get("env")))
        if env.init is not None:
            start = env.init["ts"]
        else:
            # The end without its start (a cut trace): the duration says where it began, but
            # never before what is already drawn on this track.
            if env.invocation is not None:
                self._close_invocation(env, ts, unfinished=True)
            start = max(env.phase_end, ts - int(ev.get("duration_ns") or 0))
        env.init = None
        args = _pick(ev, "ok", "duration_ns", "error_type", "error_message")
        self.slice(env.pid, INVOCATIONS_TID, "init", "init", start, ts, args)
        env.phase_end = ts

    def on_invoke_start(self, ev: dict[str, Any], ts: int) -> None:
        env = self.env_for(opt_int(ev.get("env")))
        self._close_phase(env, ts)
        env.invocation = {"start": ev}

    def on_respond(self, ev: dict[str, Any], ts: int) -> None:
        env = self.env_for(None)
        via = ev.get("via")
        name = f"{ev['kind']} ({via})" if via else ev["kind"]
        args = _pick(ev, "inv", "via", "status", "accepted", "held_ns", "held_by", "error_type")
        args |= _pick(ev, "error_message")
        self.instant(env.pid, INVOCATIONS_TID, name, "response", ts, "t", args)
        if ev["kind"] == "respond.post" and env.invocation is not None:
            env.invocation["post"] = ev

    def on_invoke_end(self, ev: dict[str, Any], ts: int) -> None:
        env = self.env_for(None)
        if env.invocation is None:
            self.stats.skip("invoke.end without invoke.start")
            return
        env.invocation["end"] = ev
        self._close_invocation(env, ts, unfinished=False)

    def _close_invocation(self, env: _Env, ts: int, *, unfinished: bool) -> None:
        assert env.invocation is not None
        start = env.invocation["start"]
        args = _pick(start, "inv", "request_id", "cold", "deadline_ns")
        end = env.invocation.get("end")
        if end is not None:
            args |= _pick(end, "outcome", "duration_ns", "error_type", "error_message")
        post = env.invocation.get("post")
        if post is not None:
            args["response_via"] = post.get("via")
            args["held_ns"] = post.get("held_ns")
        if unfinished:
            args["unfinished"] = True
        name = f"invocation {start.get('inv')}"
        self.slice(env.pid, INVOCATIONS_TID, name, "invocation", start["ts"], ts, args)
        env.invocation = None
        env.phase_end = ts

    def on_freeze(self, ev: dict[str, Any], ts: int) -> None:
        env = self.env_for(None)
        pending = ev.get("pending") or []
        args = {
            "inv": ev.get("inv"),
            "pending": len(pending),
            "pending_ids": pending[:MAX_LISTED_IDS],
        }
        self.instant(env.pid, INVOCATIONS_TID, "freeze", "lifecycle", ts, "p", args)
        if env.freeze is not None:
            self._close_freeze(env, ts, "freeze without thaw")
        env.freeze = ev

    def on_thaw(self, ev: dict[str, Any], ts: int) -> None:
        env = self.env_for(None)
        args = _pick(ev, "inv", "frozen_ns")
        self.instant(env.pid, INVOCATIONS_TID, "thaw", "lifecycle", ts, "p", args)
        if env.freeze is None:
            # A thaw without its freeze (e.g. a trace cut at the front): the span is known anyway.
            start = max(env.frozen_end, ts - int(ev.get("frozen_ns") or 0))
            env.freeze = {"ts": start, "pending": []}
        self._close_freeze(env, ts, None)

    def _close_freeze(self, env: _Env, ts: int, ended_by: str | None) -> None:
        assert env.freeze is not None
        pending = env.freeze.get("pending") or []
        args: dict[str, Any] = {"after_inv": env.freeze.get("inv"), "pending": len(pending)}
        args["pending_ids"] = pending[:MAX_LISTED_IDS]
        if ended_by is not None:
            args["ended_by"] = ended_by
        self.slice(env.pid, FROZEN_TID, "frozen", "frozen", env.freeze["ts"], ts, args)
        env.freeze = None
        env.frozen_end = ts

    def on_shutdown(self, ev: dict[str, Any], ts: int) -> None:
        env = self.env_for(None)
        lost = ev.get("lost") or []
        reason = ev.get("reason")
        args = {"reason": reason, "exit_code": ev.get("exit_code"), "lost": len(lost)}
        args["lost_ids"] = lost[:MAX_LISTED_IDS]
        self.instant(env.pid, INVOCATIONS_TID, f"shutdown ({reason})", "lifecycle", ts, "p", args)
        self._close_env(env, ts, f"shutdown ({reason})", set(lost))

    def _close_env(self, env: _Env, ts: int, ended_by: str, lost: set[int]) -> None:
        if env.freeze is not None:
            self._close_freeze(env, ts, ended_by)
        self._close_phase(env, ts)
        for work_id in sorted(env.work):
            work = self.work.pop(work_id, None)
            if work is None:
                continue
            if work.begin_ts is not None:
                self._end_step(work_id, work, ts, unfinished=True)
            status = "lost" if work_id in lost else "unfinished"
            self.instant(work.pid, work.tid, status, "work", ts, "t", {"ended_by": ended_by})
        env.work.clear()

    def on_work_create(self, ev: dict[str, Any], ts: int) -> None:
        env = self.env_for(None)
        work_id: int = ev["work"]
        parent = self.work.get(ev["parent"]) if ev.get("parent") is not None else None
        if parent is not None and parent.begin_ts is not None:
            create_pid, create_tid = parent.pid, parent.tid
        else:
            create_pid, create_tid = env.pid, INVOCATIONS_TID
        work = _Work(
            pid=env.pid,
            tid=WORK_TID_BASE + work_id,
            type=str(ev.get("type", "")),
            name=str(ev.get("name", "")),
            site=str(ev.get("site", "")),
            created_in=opt_int(ev.get("created_in")),
            create_ts=ts,
            create_pid=create_pid,
            create_tid=create_tid,
        )
        self._new_track(env, work_id, work, work_label(work.type, work.name, work.site))
        args = _pick(ev, "work", "parent", "type", "site", "created_in", "delay_ns", "ref", "role")
        args["stack"] = ev.get("stack")
        self.instant(work.pid, work.tid, "created", "work", ts, "t", args)

    def on_work_name(self, ev: dict[str, Any], ts: int) -> None:
        """A task named after creation: its track is renamed (the last thread_name wins)."""
        work = self.work.get(ev["work"])
        if work is None:
            self.stats.skip("work.name for unknown work")
            return
        work.name = str(ev["name"])
        label = work_label(work.type, work.name, work.site)
        self._meta(work.pid, work.tid, "thread_name", {"name": label})

    def _new_track(self, env: _Env, work_id: int, work: _Work, label: str) -> None:
        self.work[work_id] = work
        env.work.add(work_id)
        self._meta(work.pid, work.tid, "thread_name", {"name": label})
        self._meta(work.pid, work.tid, "thread_sort_index", {"sort_index": work.tid})

    def _work(self, work_id: int, ts: int) -> _Work:
        work = self.work.get(work_id)
        if work is None:
            # Steps of a unit whose work.create is missing (a cut or damaged trace): still shown.
            env = self.env_for(None)
            tid = WORK_TID_BASE + work_id
            work = _Work(
                env.pid, tid, "work", f"#{work_id}", "", None, ts, env.pid, INVOCATIONS_TID
            )
            self._new_track(env, work_id, work, f"work #{work_id} (creation not in trace)")
        return work

    def on_work_begin(self, ev: dict[str, Any], ts: int) -> None:
        work_id: int = ev["work"]
        work = self._work(work_id, ts)
        if work.begin_ts is not None:
            self._end_step(work_id, work, ts, unfinished=True)
        work.begin_ts = ts
        work.begin_inv = opt_int(ev.get("inv"))

    def on_work_end(self, ev: dict[str, Any], ts: int) -> None:
        work_id: int = ev["work"]
        work = self.work.get(work_id)
        if work is None or work.begin_ts is None:
            self.stats.skip("work.end without work.begin")
            return
        self._end_step(work_id, work, ts, unfinished=False)

    def _end_step(self, work_id: int, work: _Work, ts: int, *, unfinished: bool) -> None:
        assert work.begin_ts is not None
        begin, ran_in = work.begin_ts, work.begin_inv
        work.steps += 1
        crossed = ran_in is not None and work.created_in is not None and ran_in > work.created_in
        args: dict[str, Any] = {
            "work": work_id,
            "type": work.type,
            "site": work.site,
            "created_in": work.created_in,
            "ran_in": ran_in,
            "step": work.steps,
        }
        if crossed:
            args["crossed"] = True
        if unfinished:
            args["unfinished"] = True
        cat = "work,crossed" if crossed else "work"
        self.slice(work.pid, work.tid, work.name or work.type, cat, begin, ts, args)
        work.begin_ts = None
        if crossed and not work.flowed:
            # Written after the slice it binds to, so a stable sort keeps a same-ts binding right.
            work.flowed = True
            flow: dict[str, Any] = {"work": work_id, "created_in": work.created_in}
            flow |= {"ran_in": ran_in, "site": work.site}
            base = {"cat": FLOW_CAT, "name": FLOW_NAME, "id": work_id, "args": flow}
            self.out.event(
                {"ph": "s", "pid": work.create_pid, "tid": work.create_tid}
                | base
                | {"ts": ns_to_us(work.create_ts)}
            )
            self.out.event(
                {"ph": "f", "bp": "e", "pid": work.pid, "tid": work.tid}
                | base
                | {"ts": ns_to_us(begin)}
            )

    def on_work_cancel(self, ev: dict[str, Any], ts: int) -> None:
        work = self._work(ev["work"], ts)
        self.instant(work.pid, work.tid, "cancel", "work", ts, "t", _pick(ev, "inv", "reason"))

    def on_work_done(self, ev: dict[str, Any], ts: int) -> None:
        work_id: int = ev["work"]
        work = self._work(work_id, ts)
        if work.begin_ts is not None:
            self._end_step(work_id, work, ts, unfinished=True)
        args = _pick(ev, "inv", "status", "error_type", "error_message") | {"steps": work.steps}
        self.instant(work.pid, work.tid, f"done ({ev.get('status')})", "work", ts, "t", args)
        del self.work[work_id]
        env = self.envs.get(work.pid)
        if env is not None:
            env.work.discard(work_id)
        self.done[work_id] = (work.pid, work.tid)
        if len(self.done) > RECENTLY_DONE:
            del self.done[next(iter(self.done))]

    def _track_of(self, work_id: Any) -> tuple[int, int]:
        work = self.work.get(work_id) if isinstance(work_id, int) else None
        if work is not None:
            return work.pid, work.tid
        done = self.done.get(work_id) if isinstance(work_id, int) else None
        if done is not None:
            return done
        return self.env_for(None).pid, INVOCATIONS_TID

    def on_log(self, ev: dict[str, Any], ts: int) -> None:
        pid, tid = self._track_of(ev.get("work"))
        args = _pick(ev, "inv", "stream", "level", "text", "request_id", "work")
        self.instant(pid, tid, "log", "log", ts, "t", args)

    def on_error(self, ev: dict[str, Any], ts: int) -> None:
        pid, tid = self._track_of(ev.get("work"))
        args = _pick(ev, "inv", "type", "message", "work", "billed", "fatal", "stack")
        self.instant(pid, tid, f"error {ev.get('type')}", "error", ts, "t", args)

    def on_mark(self, ev: dict[str, Any], ts: int) -> None:
        env = self.env_for(None)
        args = _pick(ev, "inv", "label", "data")
        self.instant(env.pid, INVOCATIONS_TID, f"mark {ev.get('label')}", "mark", ts, "p", args)

    def finish(self) -> None:
        """Close whatever is still open at the last timestamp."""
        for env in self.envs.values():
            self._close_env(env, self.last_ts, "end of trace", set())


_PerfettoExporter.HANDLERS = {
    "env.init.start": _PerfettoExporter.on_init_start,
    "env.init.end": _PerfettoExporter.on_init_end,
    "invoke.start": _PerfettoExporter.on_invoke_start,
    "invoke.end": _PerfettoExporter.on_invoke_end,
    "respond.call": _PerfettoExporter.on_respond,
    "respond.post": _PerfettoExporter.on_respond,
    "env.freeze": _PerfettoExporter.on_freeze,
    "env.thaw": _PerfettoExporter.on_thaw,
    "env.shutdown": _PerfettoExporter.on_shutdown,
    "work.create": _PerfettoExporter.on_work_create,
    "work.begin": _PerfettoExporter.on_work_begin,
    "work.end": _PerfettoExporter.on_work_end,
    "work.cancel": _PerfettoExporter.on_work_cancel,
    "work.done": _PerfettoExporter.on_work_done,
    "work.ref": Dispatcher.on_ignored,
    "work.name": _PerfettoExporter.on_work_name,
    "log": _PerfettoExporter.on_log,
    "error": _PerfettoExporter.on_error,
    "mark": _PerfettoExporter.on_mark,
}


def _pick(ev: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: ev[k] for k in keys if ev.get(k) is not None}


def export_perfetto(
    header: dict[str, Any],
    events: Iterable[dict[str, Any]],
    out: IO[bytes],
    *,
    source: str | None = None,
) -> ExportStats:
    """Write `events` (a trace's events after `header`) to `out` as Chrome Trace Event JSON.

    Streams: memory grows with the units of work open at once, not with the trace.
    """
    stats = ExportStats()
    output = _Output(out, stats)
    exporter = _PerfettoExporter(output, stats)
    for ev in events:
        stats.events += 1
        exporter.handle(ev)
    exporter.finish()
    metadata = {
        "lambda-trace": {
            "source": source,
            "profile": header.get("profile"),
            "handler": header.get("handler"),
            "clock": header.get("clock"),
            "created": header.get("created"),
            "tool": header.get("tool"),
            "trace_version": header.get("version"),
            "events": stats.events,
        }
    }
    output.finish(metadata)
    return stats
