"""Helpers shared by the Perfetto and OTLP exporters: time units, labels, stable ids, counters."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson


@dataclass(slots=True)
class ExportStats:
    """What one export read and wrote (for the CLI's summary and for tests)."""

    events: int = 0
    """Trace events read after the header."""
    written: int = 0
    """Output records written: trace events (Perfetto) or lines (OTLP)."""
    skipped: dict[str, int] = field(default_factory=dict)
    """Events not exported, by reason (e.g. a work id never created)."""

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1


def ns_to_us(ns: int) -> float:
    """Trace nanoseconds -> Trace Event Format microseconds (fractions keep ns precision)."""
    return ns / 1000


def work_label(kind: str, name: str, site: str) -> str:
    """Track / span name of a unit of work: `timer write_metrics (app.py:12)`."""
    label = f"{kind} {name}" if name else kind
    return f"{label} ({site})" if site else label


def trace_key(header: dict[str, Any]) -> bytes:
    """A digest of the header: the trace's identity for deterministic export ids.

    Wall-clock traces carry their start time in the header, so every recording differs; byte-identical
    `--deterministic` traces give identical ids, which is what makes re-exports stable.
    """
    return hashlib.blake2b(orjson.dumps(header, option=orjson.OPT_SORT_KEYS)).digest()


def stable_hex_id(key: bytes, size: int, *parts: object) -> str:
    """`size` bytes of hash over the key and parts, as lowercase hex; never all zeros (invalid)."""
    text = "\x1f".join(str(p) for p in parts).encode("utf-8", "surrogatepass")
    digest = bytearray(hashlib.blake2b(text, digest_size=size, key=key[:64]).digest())
    if not any(digest):
        digest[-1] = 1
    return digest.hex()


def epoch_base_ns(header: dict[str, Any]) -> int:
    """Unix nanoseconds of trace ts 0: the header's `created` time, or 0 when absent or unreadable.

    Deterministic traces have no `created`, so their spans start at the Unix epoch: times then still
    show durations and order, and repeated exports stay byte-identical.
    """
    created = header.get("created")
    if not isinstance(created, str):
        return 0
    try:
        moment = datetime.fromisoformat(created)
    except ValueError:
        return 0
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return max(0, micros * 1000)


def opt_int(value: Any) -> int | None:
    """`value` if it is an int (not a bool), else None: trace fields read defensively."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class Dispatcher:
    """Routes each event to `on_<kind>` through the subclass' `HANDLERS` table, counting kinds
    that have none in `stats`; keeps the latest `ts` seen."""

    HANDLERS: dict[str, Callable[[Any, dict[str, Any], int], None]] = {}

    def __init__(self, stats: ExportStats) -> None:
        self.stats = stats
        self.last_ts = 0

    def handle(self, ev: dict[str, Any]) -> None:
        ts: int = ev["ts"]
        self.last_ts = max(self.last_ts, ts)
        method = self.HANDLERS.get(ev["kind"])
        if method is None:
            self.stats.skip(f"kind {ev['kind']} not exported")
            return
        method(self, ev, ts)

    def on_ignored(self, ev: dict[str, Any], ts: int) -> None:
        """Kinds with nothing to export (work.ref)."""
