"""The Trace Event Format's rules, as checks: what Perfetto UI and chrome://tracing rely on."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

PHASES = {"B", "E", "X", "i", "I", "M", "s", "t", "f", "C", "b", "e", "n"}
METADATA_NAMES = {"process_name", "thread_name", "process_sort_index", "thread_sort_index"}
Track = tuple[int, int]


def check_document(doc: Any) -> list[dict[str, Any]]:
    """Assert every rule; return the trace events."""
    assert isinstance(doc, dict)
    assert set(doc) <= {"traceEvents", "displayTimeUnit", "metadata", "otherData"}
    assert doc.get("displayTimeUnit", "ms") in ("ms", "ns")
    events = doc["traceEvents"]
    assert isinstance(events, list)
    for ev in events:
        check_event(ev)
    check_tracks_named(events)
    check_slices_nest(events)
    check_flows(events)
    return events


def check_event(ev: dict[str, Any]) -> None:
    assert ev["ph"] in PHASES, ev
    assert isinstance(ev["name"], str), ev
    assert type(ev["pid"]) is int and type(ev["tid"]) is int, ev
    if ev["ph"] == "M":
        assert ev["name"] in METADATA_NAMES, ev
        key = "name" if ev["name"].endswith("_name") else "sort_index"
        assert isinstance(ev["args"][key], str if key == "name" else int), ev
        return
    # Microseconds, as numbers (floats carry the nanoseconds).
    assert isinstance(ev["ts"], int | float) and ev["ts"] >= 0, ev
    assert isinstance(ev.get("cat", ""), str), ev
    if ev["ph"] == "X":
        assert isinstance(ev["dur"], int | float) and ev["dur"] >= 0, ev
    if ev["ph"] in ("i", "I"):
        assert ev.get("s", "t") in ("g", "p", "t"), ev
    if ev["ph"] in ("s", "t", "f"):
        assert "id" in ev, ev
    if ev["ph"] == "f":
        assert ev.get("bp") == "e", ev
    if "args" in ev:
        assert isinstance(ev["args"], dict), ev


def check_tracks_named(events: list[dict[str, Any]]) -> None:
    """Every process and thread that has events is named by an M event."""
    named_threads = {
        (e["pid"], e["tid"]) for e in events if e["ph"] == "M" and e["name"] == "thread_name"
    }
    named_processes = {e["pid"] for e in events if e["ph"] == "M" and e["name"] == "process_name"}
    for ev in events:
        if ev["ph"] == "M":
            continue
        assert (ev["pid"], ev["tid"]) in named_threads, ev
        assert ev["pid"] in named_processes, ev


def ns(us: float) -> int:
    """µs as written -> integer ns, as a viewer reading the decimal digits gets them."""
    return round(us * 1000)


def slices_by_track(events: list[dict[str, Any]]) -> dict[Track, list[tuple[int, int]]]:
    """(start, end) in ns of every complete slice per track, B/E pairs included."""
    tracks: dict[Track, list[tuple[int, int]]] = defaultdict(list)
    open_: dict[Track, list[int]] = defaultdict(list)
    for ev in sorted(events, key=lambda e: e.get("ts", 0)):
        track = (ev["pid"], ev["tid"])
        if ev["ph"] == "X":
            tracks[track].append((ns(ev["ts"]), ns(ev["ts"]) + ns(ev["dur"])))
        elif ev["ph"] == "B":
            open_[track].append(ns(ev["ts"]))
        elif ev["ph"] == "E":
            assert open_[track], f"E without B on {track}"
            tracks[track].append((open_[track].pop(), ns(ev["ts"])))
    assert not any(open_.values()), "B without E"
    return tracks


def check_slices_nest(events: list[dict[str, Any]]) -> None:
    """Slices on one track nest or are disjoint: partial overlap is out of spec."""
    for track, slices in slices_by_track(events).items():
        stack: list[int] = []
        for start, end in sorted(slices, key=lambda s: (s[0], -s[1])):
            while stack and stack[-1] <= start:
                stack.pop()
            assert not stack or end <= stack[-1], f"overlapping slices on {track} at {start}"
            stack.append(end)


def check_flows(events: list[dict[str, Any]], *, require_binding: bool = True) -> None:
    """Every flow start has one finish (same id, cat, name), bound to a slice on its track."""
    flows = [e for e in events if e["ph"] in ("s", "t", "f")]
    assert len({(e["cat"], e["name"]) for e in flows}) <= 1, "more than one flow style"
    starts = {e["id"]: e for e in flows if e["ph"] == "s"}
    finishes = {e["id"]: e for e in flows if e["ph"] == "f"}
    assert len(starts) == sum(e["ph"] == "s" for e in flows), "flow id started twice"
    assert len(finishes) == sum(e["ph"] == "f" for e in flows), "flow id finished twice"
    assert starts.keys() == finishes.keys(), "flow start without finish (or the reverse)"
    tracks = slices_by_track(events)
    for flow_id, start in starts.items():
        finish = finishes[flow_id]
        assert finish["ts"] >= start["ts"]
        if not require_binding:
            continue
        s_ts, f_ts = ns(start["ts"]), ns(finish["ts"])
        assert any(a <= s_ts <= b for a, b in tracks[(start["pid"], start["tid"])]), start
        assert any(a <= f_ts <= b for a, b in tracks[(finish["pid"], finish["tid"])]), finish
