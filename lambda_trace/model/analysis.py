"""Leak findings: turns a loaded trace into the categories of DESIGN.md, one message each.

Runs once after the load pass, over the candidates the pass collected (crossings, cancels, freeze
and shutdown lists) rather than over every event or work, so its cost never grows faster than the
trace. Decisions the contract leaves open:

* Work created during INIT (`created_in` 0) crosses only when it runs after a freeze; running in
  the environment's first invocation is ordinary module-level work.
* Timers and callbacks cancelled at or before the freeze are not pending, even when the emulator
  still lists them (asyncio keeps cancelled timers in its heap until they are due).
* An `io` handle pending at a freeze with no step after the response was posted is an idle
  resource: `kept_alive`, and its later steps are reuse, not a crossing; idle at a shutdown, it is
  not `lost` either.
* A response held without anything named in `held_by` counts only from `HELD_MIN_NS`.
* `work.cancel` without a reason (or a USER_CANCEL_REASONS one) is the handler's own cancel; any
  other reason, or a `cancelled` `work.done` with no cancel request, is `dropped`.
* Errors and logs of INIT work are never misattributed: module-level work belongs to no
  invocation.
* Each finding is listed under the invocation where it shows: a crossing under the invocation it
  ran into, a pending/kept-alive handle under the invocation before the freeze, an error under the
  invocation billed, a lost one under the last invocation of its environment.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from typing import TYPE_CHECKING

from .trace import CATEGORIES, Finding, Invocation, Trace
from .units import format_ns
from .works import IO, WORK_TYPES, Work

if TYPE_CHECKING:
    from .load import LoadNotes

HELD_MIN_NS = 1_000_000
"""A response held this long counts even when nothing is named as holding it (one loop turn on a
wall clock is microseconds; a real hold is an event-loop drain)."""

USER_CANCEL_REASONS = frozenset({"user", "task.cancel", "timer.cancel", "cancel"})
"""`work.cancel` reasons that mean the handler's own code cancelled it (None means the same)."""

LOOP_KEEPERS = frozenset({"timer", "io", "thread", "executor", "callback"})
"""Work types that keep an event loop busy when ref'd (a task waiting on a future does not)."""

_HINTS = {
    "task": "await it before the handler answers",
    "timer": "await or clear it before the handler answers",
    "callback": "let it run before the handler answers",
    "thread": "join it before the handler returns",
    "executor": "await the job before the handler answers",
    "io": "finish or close it before the handler answers",
    "handler": "the handler kept running after it answered",
}

_SHUTDOWN_WHY = {
    "spindown": "the environment was reclaimed",
    "timeout": "the environment was reset after a timeout",
    "crash": "the environment crashed",
    "exit": "the environment exited",
    "end": "the recording ended",
    "init_error": "INIT failed",
}


def analyse(trace: Trace, notes: LoadNotes) -> None:
    """Compute `Trace.findings` (and per-invocation derived fields) from a loaded trace."""
    ctx = _Context(trace)
    ctx.settle_pending()
    findings: list[Finding] = []
    findings += ctx.pending(notes)
    findings += ctx.crossed(notes)
    findings += ctx.lost()
    findings += ctx.dropped(notes)
    findings += ctx.per_invocation()
    findings += ctx.errors(notes)
    findings += ctx.logs(notes)
    findings += ctx.kept_alive(findings)
    order = {c: i for i, c in enumerate(CATEGORIES)}
    findings.sort(
        key=lambda f: (
            f.invocation if f.invocation is not None else -1,
            order[f.category],
            min(f.timings.values(), default=0),
            f.work if f.work is not None else -1,
        )
    )
    trace.set_findings(findings)


def _hint(w: Work) -> str:
    return _HINTS.get("handler" if w.role == "handler" else w.type, "let it finish first")


def _inv_name(index: int | None) -> str:
    if index is None:
        return "no invocation"
    return "INIT" if index == 0 else f"invocation {index}"


def _created(w: Work) -> str:
    if w.created_in == 0:
        return "created during INIT"
    return f"created in {_inv_name(w.created_in)}"


def _finding(category: str, w: Work | None, invocation: int | None, message: str) -> Finding:
    if w is None:
        return Finding(category, None, None, None, None, None, [], invocation, message)
    return Finding(
        category, w.id, w.type, w.name, w.site, w.created_in, w.ran_in, invocation, message
    )


class _Context:
    def __init__(self, trace: Trace) -> None:
        self.trace = trace
        self.t = trace.table
        self.invs = {inv.index: inv for inv in trace.invocations}
        self.by_request = {inv.request_id: inv.index for inv in trace.invocations}
        self.envs = {e.env: e for e in trace.envs}
        self.last_of_env: dict[int, int] = {}
        for inv in trace.invocations:
            self.last_of_env[inv.env] = inv.index
        self.starts = [inv.start_ns for inv in trace.invocations]
        self.freeze_ns = [f for f, _t, _i in trace.freezes]
        # cum[i]: total frozen time of freezes[:i], for O(log F) "frozen between" queries.
        self.cum = [0]
        for f, t, _i in trace.freezes:
            self.cum.append(self.cum[-1] + ((t if t is not None else trace.end_ns) - f))
        self.pending_at: dict[int, list[int]] = {}
        """row -> invocations after which it was genuinely pending at the freeze."""
        self.idle_at: dict[int, list[int]] = {}
        """io row -> invocations after which it was pending but idle."""
        self._io_spans: dict[int, tuple[list[int], list[int], list[int]]] = {}
        """io row -> (span indexes, begins, ends), grouped once."""

    def work(self, row: int) -> Work:
        return Work(self.t, row)

    def frozen_between(self, start: int, end: int) -> tuple[int, int]:
        """(frozen ns, number of freezes) that began at or after `start` and before `end`."""
        i = bisect_left(self.freeze_ns, start)
        j = bisect_left(self.freeze_ns, end)
        return self.cum[j] - self.cum[i], j - i

    def io_spans(self, rows: set[int]) -> None:
        """Group the spans of these io rows once (one pass over the spans), in time order."""
        s = self.trace.spans
        for k, idx in s.group(rows - set(self._io_spans)).items():
            self._io_spans[k] = (idx, [s.begin[i] for i in idx], [s.end[i] for i in idx])

    def idle(self, row: int, inv: Invocation, at: int) -> bool:
        """An io row with no step after the response was posted (nor running at `at`)."""
        quiet_from = inv.respond_post_ns if inv.respond_post_ns is not None else inv.start_ns
        _idx, begins, ends = self._io_spans.get(row, ([], [], []))
        i = bisect_right(ends, quiet_from)  # first span ending after quiet_from
        return i >= len(ends) or begins[i] > at

    def settle_pending(self) -> None:
        """Fill `Invocation.pending_at_freeze` and `last_ns`; classify io handles."""
        trace, t = self.trace, self.t
        invs = trace.invocations
        io_rows = {
            t.row[w]
            for inv in invs
            for w in inv.raw_pending
            if w in t.row and t.type_code(t.row[w]) == IO
        }
        for e in trace.envs:
            io_rows.update(t.row[w] for w in e.lost if w in t.row and t.type_code(t.row[w]) == IO)
        self.io_spans(io_rows)
        for n, inv in enumerate(invs):
            nxt = invs[n + 1].start_ns if n + 1 < len(invs) else trace.end_ns
            env = self.envs.get(inv.env)
            ends = [inv.freeze_ns, env.shutdown_ns if env else None, nxt]
            inv.last_ns = min((x for x in ends if x is not None and x >= inv.start_ns), default=nxt)
            if inv.freeze_ns is None:
                continue
            pending = []
            for wid in inv.raw_pending:
                k = t.row.get(wid)
                if k is None or not t.still_pending(k, inv.freeze_ns):
                    continue
                pending.append(wid)
                if t.type_code(k) == IO and self.idle(k, inv, inv.freeze_ns):
                    self.idle_at.setdefault(k, []).append(inv.index)
                else:
                    self.pending_at.setdefault(k, []).append(inv.index)
            inv.pending_at_freeze = pending

    # -- findings about one unit of work ---------------------------------------------------------

    def pending(self, notes: LoadNotes) -> list[Finding]:
        out: list[Finding] = []
        for k, after in self.pending_at.items():
            w = self.work(k)
            first = self.invs[after[0]]
            also = f" (and after {', '.join(map(str, after[1:]))})" if len(after) > 1 else ""
            msg = (
                f"{w.label()} {_created(w)} was still pending when the environment froze after "
                f"{_inv_name(first.index)}{also}: {_hint(w)}"
            )
            f = _finding("pending_at_freeze", w, first.index, msg)
            f.timings = {"created_ns": w.created_ns, "freeze_ns": first.freeze_ns or 0}
            f.details = {"frozen_after": list(after)}
            out.append(f)
        return out

    def _crossing(self, k: int) -> tuple[int, int] | None:
        """(ts, invocation) of the first step run in a later invocation after a freeze."""
        t = self.t
        if t.type_code(k) != IO:
            return t.cross[k]
        # io: only steps after a freeze at which it was still busy are a crossing.
        busy = self.pending_at.get(k)
        if not busy:
            return None
        freeze = self.invs[busy[0]].freeze_ns or 0
        s = self.trace.spans
        for i in self._io_spans.get(k, ([], [], []))[0]:
            if s.begin[i] > freeze and s.inv[i] != t.created_in[k]:
                return s.begin[i], s.inv[i]
        return None

    def crossed(self, notes: LoadNotes) -> list[Finding]:
        out: list[Finding] = []
        for k in notes.crossed:
            cross = self._crossing(k)
            if cross is None:
                continue
            ts, m = cross
            w = self.work(k)
            frozen, count = self.frozen_between(w.created_ns, ts)
            into_ns = ts - self.invs[m].resumed_ns if m in self.invs else 0
            across = f" across {count} freezes" if count > 1 else ""
            later = [x for x in w.ran_in if x > m]
            again = f" (and again in {', '.join(map(str, later))})" if later else ""
            msg = (
                f"{w.label()} was {_created(w)}, frozen for {format_ns(frozen)}{across}, "
                f"and ran {format_ns(into_ns)} into {_inv_name(m)}{again}"
            )
            f = _finding("crossed_invocation", w, m, msg)
            f.timings = {
                "created_ns": w.created_ns,
                "ran_ns": ts,
                "frozen_ns": frozen,
                "into_ns": into_ns,
            }
            f.details = {"freezes": count}
            out.append(f)
        return out

    def lost(self) -> list[Finding]:
        """Work pending when its environment ended (or when the trace ended)."""
        out: list[Finding] = []
        trace, t = self.trace, self.t
        for env in trace.envs:
            last = self.last_of_env.get(env.env)
            if env.shutdown_ns is None:
                if env is not trace.envs[-1]:
                    continue
                # The trace ends without a shutdown: everything unfinished in it is lost.
                at, why = trace.end_ns, "the trace ended"
                rows = [k for k in range(len(t)) if t.env[k] == env.env and t.still_pending(k, at)]
            else:
                at = env.shutdown_ns
                why = _SHUTDOWN_WHY.get(env.shutdown_reason or "", "the environment ended")
                rows = [t.row[w] for w in env.lost if w in t.row]
            for k in rows:
                if not t.still_pending(k, at):
                    continue
                if t.type_code(k) == IO and last is not None:
                    self.io_spans({k})
                    if self.idle(k, self.invs[last], at):
                        continue  # an idle handle closed with its environment: see kept_alive
                w = self.work(k)
                never = "never finished" if t.ran_first[k] >= 0 else "never ran"
                msg = f"{w.label()} {_created(w)} {never}: it was pending when {why}"
                if last is not None:
                    msg += f" (after {_inv_name(last)})"
                f = _finding("lost", w, last, msg)
                f.timings = {"created_ns": w.created_ns, "lost_ns": at}
                out.append(f)
        return out

    def dropped(self, notes: LoadNotes) -> list[Finding]:
        """Work the runtime cancelled or discarded (teardown), not the handler's own cancels."""
        out: list[Finding] = []
        t = self.t
        for k in dict.fromkeys(notes.cancelled):
            reason = t.cancel_reason.get(k)
            cancel = t.cancel.get(k)
            if cancel is not None:
                if reason is None or reason in USER_CANCEL_REASONS:
                    continue
                at, inv = cancel
                index: int | None = inv if inv >= 0 else None
            else:
                at = t.done_ns[k]  # cancelled with no cancel request: the runtime discarded it
                index = self._inv_at(at)
            w = self.work(k)
            by = f"by {reason}" if reason else "by the runtime"
            never = "before it finished" if t.ran_first[k] >= 0 else "before it ever ran"
            msg = f"{w.label()} {_created(w)} was cancelled {by} {never}: {_hint(w)}"
            f = _finding("dropped", w, index, msg)
            f.timings = {"created_ns": w.created_ns, "dropped_ns": at}
            f.details = {"reason": reason}
            out.append(f)
        return out

    def _inv_at(self, ts: int) -> int | None:
        """The invocation that had started last at `ts` (None before the first)."""
        k = bisect_right(self.starts, ts)
        return self.trace.invocations[k - 1].index if k else None

    # -- findings about one invocation -----------------------------------------------------------

    def _names(self, ids: list[int]) -> str:
        t = self.t
        labels = [self.work(t.row[i]).label() if i in t.row else f"work {i}" for i in ids[:3]]
        more = f" and {len(ids) - 3} more" if len(ids) > 3 else ""
        return ", ".join(labels) + more

    def _first(self, ids: list[int]) -> Work | None:
        return self.work(self.t.row[ids[0]]) if ids and ids[0] in self.t.row else None

    def per_invocation(self) -> list[Finding]:
        out: list[Finding] = []
        for inv in self.trace.invocations:
            answered = inv.respond_call_ns
            if answered is None:
                continue
            via = f"{inv.respond_via}()" if inv.respond_via else "its answer"
            if inv.outcome == "timeout":
                out.append(self._timeout(inv, answered, via))
            elif (
                inv.respond_post_ns is not None
                and inv.held_ns > 0
                and (inv.held_by or inv.held_ns >= HELD_MIN_NS)
            ):
                out.append(self._held(inv, via))
        return out

    def _held(self, inv: Invocation, via: str) -> Finding:
        holders = f": the loop was kept busy by {self._names(inv.held_by)}" if inv.held_by else ""
        msg = (
            f"the response of {_inv_name(inv.index)} was held {format_ns(inv.held_ns)} after "
            f"{via} until the event loop drained{holders}"
        )
        f = _finding("held_response", self._first(inv.held_by), inv.index, msg)
        f.timings = {
            "respond_call_ns": inv.respond_call_ns or 0,
            "respond_post_ns": inv.respond_post_ns or 0,
            "held_ns": inv.held_ns,
        }
        f.details = {"held_by": list(inv.held_by)}
        return f

    def _timeout(self, inv: Invocation, answered: int, via: str) -> Finding:
        t = self.t
        keepers = list(inv.held_by)
        if not keepers:
            env = self.envs.get(inv.env)
            for wid in env.lost if env else []:
                k = t.row.get(wid)
                if (
                    k is not None
                    and t.is_ref(k)
                    and not t.is_handler(k)
                    and WORK_TYPES[t.type_code(k)] in LOOP_KEEPERS
                ):
                    keepers.append(wid)
        end = inv.respond_post_ns if inv.respond_post_ns is not None else inv.end_ns
        end = end if end is not None else answered
        if keepers:
            by = f"ref'd handles kept the loop busy: {self._names(keepers)}"
        else:
            by = "something kept the loop busy"
        msg = (
            f"{_inv_name(inv.index)} answered via {via} {format_ns(answered - inv.start_ns)} in "
            f"but timed out after {format_ns(end - inv.start_ns)}: {by}; close or unref them"
        )
        f = _finding("timeout_keepalive", self._first(keepers), inv.index, msg)
        f.timings = {"respond_call_ns": answered, "timeout_ns": end, "waited_ns": end - answered}
        f.details = {"kept_by": keepers}
        return f

    # -- errors and logs out of place ------------------------------------------------------------

    def errors(self, notes: LoadNotes) -> list[Finding]:
        out: list[Finding] = []
        for e in notes.errors:
            w = self.work(e.row)
            text = e.message if len(e.message) <= 80 else e.message[:77] + "..."
            fatal = " and reset the environment" if e.fatal else ""
            msg = (
                f"{e.type}: {text} raised by {w.label()}, {_created(w)}, was billed to "
                f"{_inv_name(e.billed)}{fatal}"
            )
            f = _finding("error_misattributed", w, e.billed, msg)
            f.timings = {"created_ns": w.created_ns, "error_ns": e.ts}
            f.details = {"error_type": e.type, "billed": e.billed, "fatal": e.fatal}
            out.append(f)
        return out

    def logs(self, notes: LoadNotes) -> list[Finding]:
        out: list[Finding] = []
        for note in notes.logs.values():
            w = self.work(note.row)
            lines = "1 log line" if note.count == 1 else f"{note.count} log lines"
            were = "was" if note.count == 1 else "were"
            tagged = self.by_request.get(note.request_id or "")
            if tagged is not None and tagged != note.inv:
                tag = f", tagged with {_inv_name(tagged)}'s request id"
            elif note.request_id is None:
                tag = ", untagged"
            else:
                tag = ""
            msg = (
                f"{lines} of {w.label()}, {_created(w)}, {were} emitted during "
                f"{_inv_name(note.inv)}{tag}"
            )
            f = _finding("log_misattributed", w, note.inv, msg)
            f.timings = {"first_ns": note.first_ns}
            f.details = {"lines": note.count, "request_id": note.request_id, "text": note.text}
            out.append(f)
        return out

    def kept_alive(self, others: list[Finding]) -> list[Finding]:
        flagged = {f.work for f in others}
        out: list[Finding] = []
        for k, after in self.idle_at.items():
            w = self.work(k)
            if w.id in flagged:
                continue
            count = f"{len(after)} freezes" if len(after) > 1 else "a freeze"
            msg = (
                f"{w.label()} {_created(w)} stayed open across {count} with nothing waiting on "
                f"it (fine for a pool, but it may be dead after a long freeze)"
            )
            first = self.invs[after[0]]
            f = _finding("kept_alive", w, first.index, msg)
            f.timings = {"created_ns": w.created_ns, "freeze_ns": first.freeze_ns or 0}
            f.details = {"frozen_after": list(after)}
            out.append(f)
        return out
