"""Durations: parsing what users type (`250ms`, `2s`, `5m`, `1.5`) and formatting nanoseconds."""

from __future__ import annotations

import re

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?|\.\d+)\s*(ns|us|µs|ms|s|m|h)?\s*$")
_SCALE_NS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 1_000_000_000}
_SCALE_NS |= {"m": 60 * 1_000_000_000, "h": 3600 * 1_000_000_000}


def parse_duration_ns(text: str) -> int:
    """`250ms` / `2s` / `5m` / plain seconds -> nanoseconds. Raises ValueError with a clear reason."""
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"invalid duration {text!r} (use e.g. 250ms, 2s, 5m or plain seconds)")
    number, unit = match.groups()
    return round(float(number) * _SCALE_NS[unit or "s"])


def format_ns(ns: int | float) -> str:
    """Human duration with 2-3 significant digits: `850 ns`, `3.2 ms`, `1.20 s`, `2m05s`."""
    ns = float(ns)
    sign = "-" if ns < 0 else ""
    ns = abs(ns)
    if ns < 1_000:
        return f"{sign}{ns:.0f} ns"
    if ns < 1_000_000:
        return f"{sign}{ns / 1_000:.3g} µs"
    if ns < 1_000_000_000:
        return f"{sign}{ns / 1_000_000:.3g} ms"
    seconds = ns / 1_000_000_000
    if seconds < 60:
        return f"{sign}{seconds:.2f} s"
    minutes, secs = divmod(round(seconds), 60)
    return f"{sign}{minutes}m{secs:02d}s"
