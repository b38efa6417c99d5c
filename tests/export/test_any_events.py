"""Any sequence of valid events (in any order) exports without error to valid output."""

from __future__ import annotations

import io
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lambda_trace.model.export_otlp import export_otlp
from lambda_trace.model.export_perfetto import export_perfetto
from tests.export.perfetto_rules import (
    check_event,
    check_flows,
    check_slices_nest,
    check_tracks_named,
)
from tests.export.scenarios import HEADER
from tests.export.test_otlp import parse_line
from tests.strategies import events

HEADER_EVENT = {"seq": 0, "ts": 0, "kind": "trace.start", "inv": None, "version": 1, **HEADER}
SMALL = ("work", "parent", "inv", "created_in", "billed", "env")


def _squash(evs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Small ids so events refer to each other; seq and ts in file order, as the reader ensures."""
    out = []
    ts = 0
    for seq, ev in enumerate(evs, 1):
        ev = dict(ev)
        for key in SMALL:
            if isinstance(ev.get(key), int):
                ev[key] = ev[key] % 4
        ts += abs(ev["ts"]) % 3_000_000
        ev["seq"], ev["ts"] = seq, ts
        out.append(ev)
    return out


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.lists(events(), max_size=40).map(_squash))
def test_any_events(evs: list[dict[str, Any]]) -> None:
    out = io.BytesIO()
    export_perfetto(HEADER_EVENT, evs, out)
    doc = json.loads(out.getvalue())
    trace_events = doc["traceEvents"]
    for ev in trace_events:
        check_event(ev)
    check_tracks_named(trace_events)
    check_slices_nest(trace_events)
    check_flows(trace_events, require_binding=False)

    out = io.BytesIO()
    export_otlp(HEADER_EVENT, evs, out)
    for line in out.getvalue().splitlines():
        parse_line(line)
