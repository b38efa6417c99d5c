"""What handler code can call (through `lambda_trace.unref` / `lambda_trace.mark`)."""

from __future__ import annotations

import asyncio
from typing import Any

from .loop import TracedLoop


def _traced_loop() -> TracedLoop | None:
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        loop = asyncio.get_event_loop_policy().get_event_loop()
    return loop if isinstance(loop, TracedLoop) else None


def unref(handle: Any) -> None:
    loop = _traced_loop()
    if loop is not None:
        loop.unref(handle)


def mark(label: str, data: dict[str, Any] | None) -> None:
    loop = _traced_loop()
    if loop is not None:
        loop.tracer.emit("mark", {"label": label, "data": data})
