"""Record, analyse and view what AWS Lambda handlers leak between invocations.

Handler code may call `unref()` and `mark()`; outside the emulator (on Lambda itself) both do
nothing, so handlers run unchanged.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def unref(handle: Any) -> Any:
    """Like Node's `timer.unref()`: this timer, socket or transport no longer keeps the event loop
    alive, so `callback()` does not wait for it. Returns the handle."""
    from .runtime.api import unref as _unref

    _unref(handle)
    return handle


def mark(label: str, **data: Any) -> None:
    """Write a `mark` event (a user annotation) into the trace being recorded."""
    from .runtime.api import mark as _mark

    _mark(label, data or None)
