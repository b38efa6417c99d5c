"""OTLP/JSON traces (the OpenTelemetry file-exporter form: one `TracesData` per line), streamed.

Shape:

* One OTel trace per invocation. Its root span (kind SERVER) is the invocation, from `invoke.start`
  to the freeze that follows it (or the shutdown, or the next `invoke.start`), so the loop turn after
  the response is inside it. Attributes: `faas.invocation_id` (request id), `faas.coldstart`,
  `faas.instance` (`env-N`), `faas.name` (the handler), `lambda_trace.*` (invocation number,
  outcome, response path, held time). Status ERROR for error, timeout and crash outcomes.
  `env.thaw` and `env.freeze` are span events on it (the thaw opens invocation n+1, the freeze ends
  n), as are `respond.call`/`respond.post`, marks and logs not tied to a unit of work.
* One OTel trace per environment's INIT phase (root span `init`), holding module-level work.
* A span (kind INTERNAL) per unit of work, in the trace of the invocation that created it, from
  `work.create` to `work.done` (or the shutdown that lost it, or the end of the trace). Its parent is
  the span of the work that created it when that span is in the same trace, else the root. Work that
  ran in a later invocation m gets a link to m's root span (`lambda_trace.relation` = `ran_in`); a
  unit created by a leaked parent running in another invocation links to that parent (`created_by`).
  Steps, cancels, logs and errors are span events (at most MAX_SPAN_EVENTS per span, the rest
  counted in `droppedEventsCount`). Errors set status ERROR and add an `exception` event on the
  work's span and on the root of the invocation billed for it.

Resource: `service.name`/`faas.name` = handler, `faas.instance`, `cloud.provider` `aws`,
`cloud.platform` `aws_lambda`, `lambda_trace.profile`. Scope: `lambda-trace` and this exporter's
version.

Ids: trace ids are 16 bytes of keyed BLAKE2b over (header digest, invocation number, request id,
event hash), span ids 8 bytes over (header digest, work id) or (trace key, "root"); see
`export_common.trace_key`: re-exporting a trace gives the same ids.

Times: trace `ts` is nanoseconds since trace start; Unix time = header `created` + ts, or ts alone
(the Unix epoch) when the header has no `created` (deterministic traces).

Streaming policy: an invocation's line is written once its root span has ended *and* every unit of
work it created has finished (done, lost at shutdown, or unfinished at the end of the trace). Leaked
work therefore delays its invocation's line until it finishes, usually during the next invocation.
If one trace holds more than MAX_HELD_SPANS finished spans, they are written early in a line of
their own (same trace id: OTLP consumers join a trace's spans across lines). Memory is thus bounded
by the open work, not by the trace.

JSON encoding follows OTLP/JSON: lowerCamelCase fields, hex ids, integer enums, 64-bit integers
(`*UnixNano`, `intValue`) as strings.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import IO, Any

import orjson

from .. import __version__
from .export_common import (
    Dispatcher,
    ExportStats,
    epoch_base_ns,
    opt_int,
    stable_hex_id,
    trace_key,
    work_label,
)

SPAN_KIND_INTERNAL = 1
SPAN_KIND_SERVER = 2
STATUS_ERROR = 2
MAX_SPAN_EVENTS = 128
"""Span events kept per span; more are counted in droppedEventsCount (an interval may fire 1e5x)."""
MAX_SPAN_LINKS = 32
MAX_HELD_SPANS = 1000
"""Finished spans held per trace before they are written in an early line."""
MAX_LISTED_IDS = 100


def _attr(key: str, value: Any) -> dict[str, Any]:
    """One OTLP KeyValue; ints as strings (int64 in JSON), lists as arrays, the rest as text."""
    return {"key": key, "value": _any_value(value)}


def _any_value(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        if -(2**63) <= value < 2**63:
            return {"intValue": str(value)}
        return {"stringValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, str):
        return {"stringValue": value}
    if isinstance(value, list | tuple):
        return {"arrayValue": {"values": [_any_value(v) for v in value]}}
    return {"stringValue": orjson.dumps(value, default=str).decode()}


def _attrs(pairs: dict[str, Any]) -> list[dict[str, Any]]:
    return [_attr(k, v) for k, v in pairs.items() if v is not None]


@dataclass(slots=True)
class _Span:
    span_id: str
    name: str
    kind: int
    start: int
    parent_span_id: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    dropped_events: int = 0
    links: list[dict[str, Any]] = field(default_factory=list)
    linked: set[tuple[str, str]] = field(default_factory=set)
    dropped_links: int = 0
    status: dict[str, Any] | None = None


@dataclass(slots=True)
class _Group:
    """One OTel trace: an invocation, or an environment's INIT phase."""

    trace_id: str
    env: int
    number: int
    """Invocation number, or 0 for an INIT phase."""
    root: _Span
    root_open: bool = True
    spans: list[dict[str, Any]] = field(default_factory=list)
    open_work: int = 0
    response_ts: int | None = None


@dataclass(slots=True)
class _Work:
    span: _Span
    group: _Group
    created_in: int | None
    env: int
    begin_ts: int | None = None
    steps: int = 0


class _OtlpExporter(Dispatcher):
    def __init__(self, header: dict[str, Any], out: IO[bytes], stats: ExportStats) -> None:
        self.out = out
        super().__init__(stats)
        self.header = header
        self.key = trace_key(header)
        self.base = epoch_base_ns(header)
        handler = str(header.get("handler", ""))
        self.resource_common = {
            "service.name": handler or "lambda-trace",
            "faas.name": handler or None,
            "cloud.provider": "aws",
            "cloud.platform": "aws_lambda",
            "lambda_trace.profile": header.get("profile"),
        }
        self.scope = {"name": "lambda-trace", "version": __version__}
        self.invocations: dict[int, _Group] = {}
        """Invocation number -> its trace, while not yet written."""
        self.inits: dict[int, _Group] = {}
        """Environment -> its INIT trace, while not yet written."""
        self.current: dict[int, _Group] = {}
        """Environment -> the group whose root is open (init or invocation)."""
        self.work: dict[int, _Work] = {}
        self.env: int = 0

    # -- helpers ------------------------------------------------------------------------------

    def nano(self, ts: int) -> str:
        return str(self.base + ts)

    def new_group(
        self, env: int, number: int, *parts: object, name: str, kind: int, ts: int
    ) -> _Group:
        trace_id = stable_hex_id(self.key, 16, *parts)
        root = _Span(stable_hex_id(self.key, 8, trace_id, "root"), name, kind, ts)
        group = _Group(trace_id, env, number, root)
        self.current[env] = group
        return group

    def add_event(self, span: _Span, ts: int, name: str, attrs: dict[str, Any]) -> None:
        if len(span.events) >= MAX_SPAN_EVENTS:
            span.dropped_events += 1
            return
        event = {"timeUnixNano": self.nano(ts), "name": name, "attributes": _attrs(attrs)}
        span.events.append(event)

    def add_link(self, span: _Span, group: _Group, span_id: str, attrs: dict[str, Any]) -> None:
        key = (group.trace_id, span_id)
        if key in span.linked:
            return
        if len(span.links) >= MAX_SPAN_LINKS:
            span.dropped_links += 1
            return
        span.linked.add(key)
        span.links.append(
            {"traceId": group.trace_id, "spanId": span_id, "attributes": _attrs(attrs)}
        )

    def span_json(self, group: _Group, span: _Span, end: int) -> dict[str, Any]:
        record: dict[str, Any] = {
            "traceId": group.trace_id,
            "spanId": span.span_id,
            "name": span.name,
            "kind": span.kind,
            "startTimeUnixNano": self.nano(span.start),
            "endTimeUnixNano": self.nano(max(end, span.start)),
            "attributes": _attrs(span.attributes),
        }
        if span.parent_span_id is not None:
            record["parentSpanId"] = span.parent_span_id
        if span.events:
            record["events"] = span.events
        if span.dropped_events:
            record["droppedEventsCount"] = span.dropped_events
        if span.links:
            record["links"] = span.links
        if span.dropped_links:
            record["droppedLinksCount"] = span.dropped_links
        if span.status is not None:
            record["status"] = span.status
        return record

    def finish_span(self, group: _Group, span: _Span, end: int) -> None:
        group.spans.append(self.span_json(group, span, end))
        if len(group.spans) >= MAX_HELD_SPANS:
            self.write(group)

    def write(self, group: _Group) -> None:
        """One line: the group's finished spans, as a TracesData."""
        if not group.spans:
            return
        resource = self.resource_common | {"faas.instance": f"env-{group.env}"}
        data = {
            "resourceSpans": [
                {
                    "resource": {"attributes": _attrs(resource)},
                    "scopeSpans": [{"scope": self.scope, "spans": group.spans}],
                }
            ]
        }
        self.out.write(orjson.dumps(data, default=str, option=orjson.OPT_APPEND_NEWLINE))
        self.stats.written += 1
        group.spans = []

    def close_root(self, group: _Group, ts: int) -> None:
        if not group.root_open:
            return
        group.root_open = False
        if self.current.get(group.env) is group:
            del self.current[group.env]
        self.finish_span(group, group.root, ts)
        self.maybe_write(group)

    def maybe_write(self, group: _Group) -> None:
        """Write a group once its root has ended and all the work it created has finished."""
        if group.root_open or group.open_work > 0:
            return
        self.write(group)
        index, number = (
            (self.inits, group.env) if group.number == 0 else (self.invocations, group.number)
        )
        if index.get(number) is group:
            del index[number]

    def root_for_events(self) -> _Span | None:
        group = self.current.get(self.env)
        return group.root if group is not None else None

    # -- events -------------------------------------------------------------------------------

    def on_init_start(self, ev: dict[str, Any], ts: int) -> None:
        env = opt_int(ev.get("env")) or 0
        self.env = env
        previous = self.current.get(env)
        if previous is not None:
            self.close_root(previous, ts)
        group = self.new_group(env, 0, "init", env, name="init", kind=SPAN_KIND_INTERNAL, ts=ts)
        group.root.attributes |= {
            "faas.instance": f"env-{env}",
            "faas.coldstart": True,
            "lambda_trace.phase": "init",
        }
        self.inits[env] = group

    def on_init_end(self, ev: dict[str, Any], ts: int) -> None:
        env = opt_int(ev.get("env")) or self.env
        group = self.inits.get(env)
        if group is None or not group.root_open:
            self.stats.skip("env.init.end without env.init.start")
            return
        group.root.attributes |= {
            "lambda_trace.init_ok": ev.get("ok"),
            "lambda_trace.duration_ns": ev.get("duration_ns"),
        }
        if ev.get("ok") is False:
            group.root.status = _error_status(ev.get("error_type"), ev.get("error_message"))
        self.close_root(group, ts)

    def on_invoke_start(self, ev: dict[str, Any], ts: int) -> None:
        env = opt_int(ev.get("env")) or 0
        self.env = env
        previous = self.current.get(env)
        if previous is not None:
            # No freeze in between (a cut trace): the previous invocation ends at its response.
            end = previous.response_ts if previous.response_ts is not None else ts
            self.close_root(previous, end)
        number = opt_int(ev.get("inv")) or 0
        request_id = str(ev.get("request_id", ""))
        group = self.new_group(
            env,
            number,
            "invocation",
            number,
            request_id,
            ev.get("event_sha256", ""),
            name=f"invocation {number}",
            kind=SPAN_KIND_SERVER,
            ts=ts,
        )
        group.root.attributes |= {
            "faas.invocation_id": request_id,
            "faas.coldstart": bool(ev.get("cold")),
            "faas.instance": f"env-{env}",
            "faas.name": self.header.get("handler"),
            "lambda_trace.invocation": number,
            "lambda_trace.deadline_ns": ev.get("deadline_ns"),
            "lambda_trace.event_size": ev.get("event_size"),
        }
        self.invocations[number] = group

    def on_invoke_end(self, ev: dict[str, Any], ts: int) -> None:
        group = self.current.get(self.env)
        if group is None:
            self.stats.skip("invoke.end without invoke.start")
            return
        outcome = ev.get("outcome")
        group.response_ts = ts
        group.root.attributes |= {
            "lambda_trace.outcome": outcome,
            "lambda_trace.duration_ns": ev.get("duration_ns"),
        }
        if outcome != "success":
            message = ev.get("error_message") or outcome
            group.root.status = _error_status(ev.get("error_type"), message)

    def on_respond(self, ev: dict[str, Any], ts: int) -> None:
        group = self.current.get(self.env)
        if group is None:
            self.stats.skip(f"{ev['kind']} outside an invocation")
            return
        attrs = _pick(ev, "via", "status", "accepted", "held_ns", "error_type", "error_message")
        if ev.get("held_by"):
            attrs["held_by"] = ev["held_by"][:MAX_LISTED_IDS]
        self.add_event(group.root, ts, ev["kind"], attrs)
        if ev["kind"] == "respond.post":
            group.root.attributes |= {
                "lambda_trace.response_via": ev.get("via"),
                "lambda_trace.held_ns": ev.get("held_ns"),
            }

    def on_thaw(self, ev: dict[str, Any], ts: int) -> None:
        root = self.root_for_events()
        if root is None:
            self.stats.skip("env.thaw outside an invocation")
            return
        self.add_event(root, ts, "env.thaw", _pick(ev, "frozen_ns"))

    def on_freeze(self, ev: dict[str, Any], ts: int) -> None:
        group = self.current.get(self.env)
        if group is None:
            self.stats.skip("env.freeze outside an invocation")
            return
        pending = ev.get("pending") or []
        attrs = {"pending": len(pending), "pending_ids": pending[:MAX_LISTED_IDS]}
        self.add_event(group.root, ts, "env.freeze", attrs)
        group.root.attributes["lambda_trace.pending_at_freeze"] = len(pending)
        self.close_root(group, ts)

    def on_shutdown(self, ev: dict[str, Any], ts: int) -> None:
        env = self.env
        lost = ev.get("lost") or []
        group = self.current.get(env)
        if group is not None:
            attrs = _pick(ev, "reason", "exit_code") | {"lost": len(lost)}
            self.add_event(group.root, ts, "env.shutdown", attrs)
        self.close_env(env, ts, "lost")

    def close_env(self, env: int, ts: int, status: str) -> None:
        group = self.current.get(env)
        if group is not None:
            self.close_root(group, ts)
        for work_id in [w for w, work in self.work.items() if work.env == env]:
            work = self.work[work_id]
            work.span.attributes["lambda_trace.status"] = status
            self.end_work(work_id, work, ts)

    def on_work_name(self, ev: dict[str, Any], ts: int) -> None:
        """A task named after creation: its span (not yet written) takes the new name."""
        work = self.work.get(ev["work"])
        if work is None:
            self.stats.skip("work.name for unknown or finished work")
            return
        attrs = work.span.attributes
        name = str(ev["name"])
        attrs["lambda_trace.work_name"] = name
        work.span.name = work_label(
            str(attrs.get("lambda_trace.work_type", "")),
            name,
            str(attrs.get("lambda_trace.site", "")),
        )

    def on_work_create(self, ev: dict[str, Any], ts: int) -> None:
        work_id: int = ev["work"]
        created_in = opt_int(ev.get("created_in"))
        group = self.group_of(created_in)
        if group is None:
            self.stats.skip("work created outside any invocation or init")
            return
        kind, name, site = str(ev.get("type", "")), str(ev.get("name", "")), str(ev.get("site", ""))
        span = _Span(
            stable_hex_id(self.key, 8, "work", work_id),
            work_label(kind, name, site),
            SPAN_KIND_INTERNAL,
            ts,
            parent_span_id=group.root.span_id,
        )
        parent = self.work.get(ev["parent"]) if ev.get("parent") is not None else None
        if parent is not None:
            if parent.group is group:
                span.parent_span_id = parent.span.span_id
            else:
                self.add_link(
                    span, parent.group, parent.span.span_id, {"lambda_trace.relation": "created_by"}
                )
        span.attributes |= {
            "lambda_trace.work": work_id,
            "lambda_trace.work_type": kind,
            "lambda_trace.work_name": name,
            "code.file.path": site.rpartition(":")[0] or site or None,
            "code.line.number": _lineno(site),
            "lambda_trace.site": site,
            "lambda_trace.created_in": created_in,
            "lambda_trace.parent": ev.get("parent"),
            "lambda_trace.delay_ns": ev.get("delay_ns"),
            "lambda_trace.ref": ev.get("ref"),
            "lambda_trace.role": ev.get("role"),
        }
        if ev.get("stack"):
            span.attributes["code.stacktrace"] = "\n".join(str(s) for s in ev["stack"])
        self.work[work_id] = _Work(span, group, created_in, group.env)
        group.open_work += 1

    def group_of(self, created_in: int | None) -> _Group | None:
        if created_in is not None and created_in > 0:
            group = self.invocations.get(created_in)
            if group is not None:
                return group
        if created_in == 0:
            group = self.inits.get(self.env)
            if group is not None:
                return group
        return self.current.get(self.env)

    def on_work_begin(self, ev: dict[str, Any], ts: int) -> None:
        work = self.work.get(ev["work"])
        if work is None:
            self.stats.skip("work.begin of unknown work")
            return
        work.steps += 1
        work.begin_ts = ts
        ran_in = opt_int(ev.get("inv"))
        self.add_event(work.span, ts, "work.begin", {"inv": ran_in, "step": work.steps})
        if ran_in is not None and work.created_in is not None and ran_in > work.created_in:
            work.span.attributes["lambda_trace.crossed_invocation"] = True
            target = self.invocations.get(ran_in)
            if target is not None and target is not work.group:
                attrs = {"lambda_trace.relation": "ran_in", "lambda_trace.invocation": ran_in}
                self.add_link(work.span, target, target.root.span_id, attrs)

    def on_work_end(self, ev: dict[str, Any], ts: int) -> None:
        work = self.work.get(ev["work"])
        if work is None:
            self.stats.skip("work.end of unknown work")
            return
        if work.begin_ts is not None:
            self.add_event(work.span, ts, "work.end", {"duration_ns": ts - work.begin_ts})
        work.begin_ts = None

    def on_work_cancel(self, ev: dict[str, Any], ts: int) -> None:
        work = self.work.get(ev["work"])
        if work is None:
            self.stats.skip("work.cancel of unknown work")
            return
        self.add_event(work.span, ts, "work.cancel", _pick(ev, "inv", "reason"))

    def on_work_done(self, ev: dict[str, Any], ts: int) -> None:
        work_id: int = ev["work"]
        work = self.work.get(work_id)
        if work is None:
            self.stats.skip("work.done of unknown work")
            return
        status = ev.get("status")
        work.span.attributes["lambda_trace.status"] = status
        if status == "error":
            work.span.status = _error_status(ev.get("error_type"), ev.get("error_message"))
        self.end_work(work_id, work, ts)

    def end_work(self, work_id: int, work: _Work, ts: int) -> None:
        del self.work[work_id]
        work.span.attributes["lambda_trace.steps"] = work.steps
        group = work.group
        self.finish_span(group, work.span, ts)
        group.open_work -= 1
        self.maybe_write(group)

    def on_log(self, ev: dict[str, Any], ts: int) -> None:
        work = self.work.get(ev["work"]) if ev.get("work") is not None else None
        span = work.span if work is not None else self.root_for_events()
        if span is None:
            self.stats.skip("log outside an invocation")
            return
        attrs = _pick(ev, "inv", "stream", "level", "request_id", "work")
        attrs["text"] = ev.get("text")
        self.add_event(span, ts, "log", attrs)

    def on_error(self, ev: dict[str, Any], ts: int) -> None:
        attrs = {
            "exception.type": ev.get("type"),
            "exception.message": ev.get("message"),
            "lambda_trace.work": ev.get("work"),
            "lambda_trace.billed": ev.get("billed"),
            "lambda_trace.fatal": ev.get("fatal"),
        }
        if ev.get("stack"):
            attrs["exception.stacktrace"] = "\n".join(str(s) for s in ev["stack"])
        status = _error_status(ev.get("type"), ev.get("message"))
        work = self.work.get(ev["work"]) if ev.get("work") is not None else None
        if work is not None:
            self.add_event(work.span, ts, "exception", attrs)
            work.span.status = status
        billed = opt_int(ev.get("billed"))
        target = self.invocations.get(billed) if billed is not None else self.current.get(self.env)
        if target is not None and target.root_open and (work is None or target is not work.group):
            self.add_event(target.root, ts, "exception", attrs)
        elif work is None and target is None:
            self.stats.skip("error outside an invocation")

    def on_mark(self, ev: dict[str, Any], ts: int) -> None:
        root = self.root_for_events()
        if root is None:
            self.stats.skip("mark outside an invocation")
            return
        attrs = {"label": ev.get("label"), "data": ev.get("data")}
        self.add_event(root, ts, "mark", attrs)

    def finish(self) -> None:
        """End everything still open at the last timestamp and write every held trace."""
        for env in list(self.current):
            self.close_env(env, self.last_ts, "unfinished")
        for work_id, work in list(self.work.items()):
            work.span.attributes["lambda_trace.status"] = "unfinished"
            self.end_work(work_id, work, self.last_ts)
        for group in [*self.inits.values(), *self.invocations.values()]:
            self.close_root(group, self.last_ts)
            self.write(group)
        self.inits.clear()
        self.invocations.clear()


_OtlpExporter.HANDLERS = {
    "env.init.start": _OtlpExporter.on_init_start,
    "env.init.end": _OtlpExporter.on_init_end,
    "invoke.start": _OtlpExporter.on_invoke_start,
    "invoke.end": _OtlpExporter.on_invoke_end,
    "respond.call": _OtlpExporter.on_respond,
    "respond.post": _OtlpExporter.on_respond,
    "env.freeze": _OtlpExporter.on_freeze,
    "env.thaw": _OtlpExporter.on_thaw,
    "env.shutdown": _OtlpExporter.on_shutdown,
    "work.create": _OtlpExporter.on_work_create,
    "work.begin": _OtlpExporter.on_work_begin,
    "work.end": _OtlpExporter.on_work_end,
    "work.cancel": _OtlpExporter.on_work_cancel,
    "work.done": _OtlpExporter.on_work_done,
    "work.ref": Dispatcher.on_ignored,
    "work.name": _OtlpExporter.on_work_name,
    "log": _OtlpExporter.on_log,
    "error": _OtlpExporter.on_error,
    "mark": _OtlpExporter.on_mark,
}


def _error_status(error_type: Any, message: Any) -> dict[str, Any]:
    text = ": ".join(str(p) for p in (error_type, message) if p)
    return {"code": STATUS_ERROR, "message": text or "error"}


def _pick(ev: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: ev[k] for k in keys if ev.get(k) is not None}


def _lineno(site: str) -> int | None:
    tail = site.rpartition(":")[2]
    return int(tail) if tail.isdigit() else None


def export_otlp(
    header: dict[str, Any],
    events: Iterable[dict[str, Any]],
    out: IO[bytes],
) -> ExportStats:
    """Write `events` (a trace's events after `header`) to `out` as OTLP/JSON lines.

    Streams: see the module docstring for when each invocation's line is written.
    """
    stats = ExportStats()
    exporter = _OtlpExporter(header, out, stats)
    for ev in events:
        stats.events += 1
        exporter.handle(ev)
    exporter.finish()
    return stats
