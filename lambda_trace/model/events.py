"""Trace schema v1: the pydantic models here are the single definition of every event kind.

The hot load path checks events with `model/check.py`, which is derived from these models at
import time, so the two accept and reject the same documents (tests/test_check_equivalence.py).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

SCHEMA_VERSION = 1
"""Major version of the trace format; readers refuse any other major version."""

NonNeg = Annotated[int, Field(ge=0)]
WorkType = Literal["task", "timer", "callback", "thread", "executor", "io"]
RespondVia = Literal["callback", "succeed", "fail", "done", "return", "awaitable", "throw"]
Outcome = Literal["success", "error", "timeout", "crash"]
Status = Literal["success", "error"]
ShutdownReason = Literal["crash", "timeout", "spindown", "end", "exit", "init_error"]


class Event(BaseModel):
    """Fields every event carries. Unknown extra fields are kept (minor-version additions)."""

    model_config = ConfigDict(strict=True, extra="allow", frozen=True)

    seq: NonNeg
    """Strictly increasing across the file."""
    ts: NonNeg
    """Nanoseconds since trace start on the emulated clock (frozen time included)."""
    kind: str
    inv: NonNeg | None
    """Invocation current when it happened: 0 = init, None = none (between environments)."""


class TraceStart(Event):
    """Line 1 of every trace file."""

    kind: Literal["trace.start"]
    version: NonNeg
    profile: str
    handler: str
    clock: Literal["wall", "virtual"]
    options: dict[str, Any]
    tool: str
    created: str | None = None
    """ISO-8601 wall-clock time the recording started; None in deterministic traces."""


class EnvInitStart(Event):
    """A cold start begins: a new execution environment imports the handler."""

    kind: Literal["env.init.start"]
    env: NonNeg
    """Environment number, 1 for the first; a reset starts the next."""


class EnvInitEnd(Event):
    kind: Literal["env.init.end"]
    env: NonNeg
    ok: bool
    duration_ns: NonNeg
    error_type: str | None = None
    error_message: str | None = None


class InvokeStart(Event):
    kind: Literal["invoke.start"]
    request_id: str
    env: NonNeg
    cold: bool
    deadline_ns: NonNeg
    """`ts` at which the invocation times out."""
    event_size: NonNeg
    event_sha256: str
    event: Any = None
    """The payload itself, only with --record-payloads (secrets redacted)."""


class InvokeEnd(Event):
    kind: Literal["invoke.end"]
    request_id: str
    outcome: Outcome
    duration_ns: NonNeg
    error_type: str | None = None
    error_message: str | None = None


class RespondCall(Event):
    """The handler signalled completion (it may not be answered yet)."""

    kind: Literal["respond.call"]
    via: RespondVia
    status: Status
    accepted: bool = True
    """False when the runtime ignored it (a second callback, a callback after the promise won)."""
    work: NonNeg | None = None


class RespondPost(Event):
    """The caller got the answer."""

    kind: Literal["respond.post"]
    via: RespondVia | None
    """How the handler answered; None when the runtime answered for it (e.g. Runtime.NodeJsExit)."""
    status: Status
    held_ns: NonNeg
    """Time from respond.call to this post (0 when posted at once)."""
    held_by: list[NonNeg] = []
    """Work that kept the event loop busy while the response was held."""
    error_type: str | None = None
    error_message: str | None = None
    result_size: NonNeg | None = None
    result_sha256: str | None = None
    result: Any = None


class EnvFreeze(Event):
    kind: Literal["env.freeze"]
    pending: list[NonNeg]
    """Ids of work not finished at the freeze."""


class EnvThaw(Event):
    kind: Literal["env.thaw"]
    frozen_ns: NonNeg


class EnvShutdown(Event):
    kind: Literal["env.shutdown"]
    reason: ShutdownReason
    lost: list[NonNeg]
    """Ids of work pending when the environment ended: it never runs."""
    exit_code: int | None = None


class WorkCreate(Event):
    kind: Literal["work.create"]
    work: NonNeg
    parent: NonNeg | None
    type: WorkType
    name: str
    site: str
    """`file:line` where the handler's code created it."""
    stack: list[str]
    created_in: NonNeg | None
    delay_ns: NonNeg | None = None
    """Timers: delay requested."""
    ref: bool = True
    """False when the handle does not keep the event loop alive (unref'd)."""
    role: Literal["handler"] | None = None
    """"handler": the task running the handler function itself (one per invocation)."""


class WorkRef(Event):
    """A handle was unref'd (or ref'd again) after creation."""

    kind: Literal["work.ref"]
    work: NonNeg
    ref: bool


class WorkName(Event):
    """A task was named after creation (`create_task(..., name=...)` sets it after the factory)."""

    kind: Literal["work.name"]
    work: NonNeg
    name: str


class WorkBegin(Event):
    kind: Literal["work.begin"]
    work: NonNeg


class WorkEnd(Event):
    kind: Literal["work.end"]
    work: NonNeg


class WorkDone(Event):
    kind: Literal["work.done"]
    work: NonNeg
    status: Literal["ok", "error", "cancelled"]
    error_type: str | None = None
    error_message: str | None = None


class WorkCancel(Event):
    kind: Literal["work.cancel"]
    work: NonNeg
    reason: str | None = None


class Log(Event):
    kind: Literal["log"]
    stream: str
    text: str
    request_id: str | None
    """The request id the runtime would tag the line with (the old one for leaked work)."""
    work: NonNeg | None = None
    level: str | None = None


class Error(Event):
    kind: Literal["error"]
    type: str
    message: str
    work: NonNeg | None
    billed: NonNeg | None
    """Invocation the error was reported against."""
    fatal: bool = False
    stack: list[str] = []


class Mark(Event):
    """A user annotation (lambda_trace.mark)."""

    kind: Literal["mark"]
    label: str
    data: dict[str, Any] | None = None


KNOWN_EVENTS: tuple[type[Event], ...] = (
    TraceStart,
    EnvInitStart,
    EnvInitEnd,
    InvokeStart,
    InvokeEnd,
    RespondCall,
    RespondPost,
    EnvFreeze,
    EnvThaw,
    EnvShutdown,
    WorkCreate,
    WorkRef,
    WorkName,
    WorkBegin,
    WorkEnd,
    WorkDone,
    WorkCancel,
    Log,
    Error,
    Mark,
)


def _kind_of(model: type[Event]) -> str:
    literal = model.model_fields["kind"].annotation
    (value,) = literal.__args__  # type: ignore[union-attr]
    return str(value)


EVENT_MODELS: dict[str, type[Event]] = {_kind_of(m): m for m in KNOWN_EVENTS}
"""kind -> model, for every kind this version knows."""

AnyEvent = Annotated[
    TraceStart
    | EnvInitStart
    | EnvInitEnd
    | InvokeStart
    | InvokeEnd
    | RespondCall
    | RespondPost
    | EnvFreeze
    | EnvThaw
    | EnvShutdown
    | WorkCreate
    | WorkRef
    | WorkName
    | WorkBegin
    | WorkEnd
    | WorkDone
    | WorkCancel
    | Log
    | Error
    | Mark,
    Field(discriminator="kind"),
]

EVENT_ADAPTER: TypeAdapter[Any] = TypeAdapter(AnyEvent)


def parse_event(data: dict[str, Any]) -> Event:
    """Validate one event with pydantic; an unknown kind becomes a plain `Event` (opaque)."""
    kind = data.get("kind")
    model = EVENT_MODELS.get(kind) if isinstance(kind, str) else None
    if model is None:
        return Event.model_validate(data)
    return model.model_validate(data)


def json_schema() -> dict[str, Any]:
    """The JSON Schema of one trace line (what `lambda-trace schema` prints)."""
    schema = EVENT_ADAPTER.json_schema()
    schema["title"] = f"lambda-trace event, trace format version {SCHEMA_VERSION}"
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema
