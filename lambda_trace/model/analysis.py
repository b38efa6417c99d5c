"""Leak findings: turns a loaded trace into the categories of DESIGN.md, one message each.

Runs once after the load pass over the invocations and works (not the events), so its cost grows
with the number of works, spans and freezes, never faster than the trace.

Decisions the contract leaves open (documented in docs/FINDINGS.md):
* Work created during INIT (`created_in` 0) crosses only when it runs after a freeze; running
  during the environment's first invocation is ordinary module-level work.
* Timers and callbacks cancelled at or before the freeze are not pending, even when the emulator
  still lists them (asyncio keeps cancelled timers in its heap until they are due).
* An `io` handle pending at a freeze with no step after the response was posted is an idle
  resource: `kept_alive`, and its later steps are reuse, not a crossing.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from typing import TYPE_CHECKING

from .trace import CATEGORIES, Finding, Invocation, Trace, Work
from .units import format_ns

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


def analyse(trace: Trace, notes: LoadNotes) -> None:
    """Compute `Trace.findings` (and per-invocation derived fields) from a loaded trace."""
    ctx = _Context(trace)
    findings: list[Finding] = []
    ctx.settle_pending()
    findings += ctx.per_work()
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
    trace.index_works()
    trace.set_findings(findings)


def _hint(w: Work) -> str:
    return _HINTS.get(
        "handler" if w.role == "handler" else w.type, "let it finish before answering"
    )


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
        category, w.id, w.type, w.name, w.site, w.created_in, list(w.ran_in), invocation, message
    )


class _Context:
    def __init__(self, trace: Trace) -> None:
        self.trace = trace
        self.works = trace.works_by_id
        self.invs = {inv.index: inv for inv in trace.invocations}
        self.by_request = {inv.request_id: inv.index for inv in trace.invocations}
        self.freeze_ns = [f for f, _t, _i in trace.freezes]
        # cum[i]: total frozen time of freezes[:i], for O(log F) "frozen between" queries.
        self.cum = [0]
        for f, t, _i in trace.freezes:
            self.cum.append(self.cum[-1] + ((t if t is not None else trace.end_ns) - f))
        self.envs = {e.env: e for e in trace.envs}
        self.last_of_env: dict[int, int] = {}
        for inv in trace.invocations:
            self.last_of_env[inv.env] = inv.index
        self.starts = [inv.start_ns for inv in trace.invocations]
        self.pending_at: dict[int, list[int]] = {}
        """work id -> invocations after which it was genuinely pending at the freeze."""
        self.idle_at: dict[int, list[int]] = {}
        """io work id -> invocations after which it was pending but idle."""

    def frozen_between(self, start: int, end: int) -> tuple[int, int]:
        """(frozen ns, number of freezes) that began at or after `start` and before `end`."""
        i = bisect_left(self.freeze_ns, start)
        j = bisect_left(self.freeze_ns, end)
        return self.cum[j] - self.cum[i], j - i

    def still_pending(self, w: Work, at: int) -> bool:
        if w.done_ns is not None and w.done_ns <= at:
            return False  # settled before (or exactly at) the freeze
        cancelled = w.cancel_ns is not None and w.cancel_ns <= at
        return not (cancelled and w.type in ("timer", "callback"))

    def idle(self, w: Work, inv: Invocation, at: int) -> bool:
        """An io handle with no step after the response was posted (or running at `at`)."""
        quiet_from = inv.respond_post_ns if inv.respond_post_ns is not None else inv.start_ns
        return all(e <= quiet_from or b > at for b, e, _m in w.spans)

    def settle_pending(self) -> None:
        """Fill `Invocation.pending_at_freeze` and `last_ns`; classify io handles."""
        trace = self.trace
        invs = trace.invocations
        for k, inv in enumerate(invs):
            nxt = invs[k + 1].start_ns if k + 1 < len(invs) else trace.end_ns
            env = self.envs.get(inv.env)
            ends = [inv.freeze_ns, env.shutdown_ns if env else None, nxt]
            inv.last_ns = min((x for x in ends if x is not None and x >= inv.start_ns), default=nxt)
            if inv.freeze_ns is None:
                continue
            pending = []
            for wid in inv.raw_pending:
                w = self.works.get(wid)
                if w is None or not self.still_pending(w, inv.freeze_ns):
                    continue
                pending.append(wid)
                if w.type == "io" and self.idle(w, inv, inv.freeze_ns):
                    self.idle_at.setdefault(wid, []).append(inv.index)
                else:
                    self.pending_at.setdefault(wid, []).append(inv.index)
            inv.pending_at_freeze = pending

    # -- findings about one unit of work ---------------------------------------------------------

    def per_work(self) -> list[Finding]:
        out: list[Finding] = []
        lost_at = self._lost()
        for w in self.works.values():
            after = self.pending_at.get(w.id)
            if after:
                out.append(self._pending(w, after))
            cross = self._crossing(w)
            if cross is not None:
                out.append(self._crossed(w, *cross))
            if w.id in lost_at:
                out.append(self._lost_finding(w, *lost_at[w.id]))
            if self._dropped(w):
                out.append(self._dropped_finding(w))
        return out

    def _pending(self, w: Work, after: list[int]) -> Finding:
        first = self.invs[after[0]]
        assert first.freeze_ns is not None
        also = f" (and after {', '.join(map(str, after[1:]))})" if len(after) > 1 else ""
        hint = _hint(w)
        msg = (
            f"{w.label()} {_created(w)} was still pending when the environment froze after "
            f"{_inv_name(first.index)}{also}: {hint}"
        )
        f = _finding("pending_at_freeze", w, first.index, msg)
        f.timings = {"created_ns": w.created_ns, "freeze_ns": first.freeze_ns}
        f.details = {"frozen_after": list(after)}
        return f

    def _crossing(self, w: Work) -> tuple[int, int] | None:
        """(ts, invocation) of the first step run in a later invocation after a freeze."""
        if w.cross_ns < 0:
            return None
        if w.type != "io":
            return w.cross_ns, w.cross_inv
        # io: only steps after a freeze at which it was still busy are a crossing.
        busy = self.pending_at.get(w.id)
        if not busy:
            return None
        freeze = self.invs[busy[0]].freeze_ns
        assert freeze is not None
        for b, _e, m in w.spans:
            if b > freeze and m != w.created_in:
                return b, m
        return None

    def _crossed(self, w: Work, ts: int, m: int) -> Finding:
        frozen, count = self.frozen_between(w.created_ns, ts)
        into_ns = ts - self.invs[m].start_ns if m in self.invs else 0
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
        return f

    def _lost(self) -> dict[int, tuple[int, str, int | None]]:
        """work id -> (ts, why, invocation) for work pending when its environment ended."""
        out: dict[int, tuple[int, str, int | None]] = {}
        trace = self.trace
        for env in trace.envs:
            last = self.last_of_env.get(env.env)
            if env.shutdown_ns is None:
                if env is not (trace.envs[-1] if trace.envs else None):
                    continue
                # The trace ends without a shutdown: everything unfinished in it is lost.
                at, why = trace.end_ns, "the trace ended"
                ids = [
                    w.id
                    for w in self.works.values()
                    if w.env == env.env and self.still_pending(w, at)
                ]
            else:
                at = env.shutdown_ns
                why = {
                    "spindown": "the environment was reclaimed",
                    "timeout": "the environment was reset after a timeout",
                    "crash": "the environment crashed",
                    "exit": "the environment exited",
                    "end": "the recording ended",
                    "init_error": "INIT failed",
                }.get(env.shutdown_reason or "", "the environment ended")
                ids = env.lost
            for wid in ids:
                w = self.works.get(wid)
                if w is None or not self.still_pending(w, at):
                    continue
                if w.type == "io" and last is not None and self.idle(w, self.invs[last], at):
                    continue  # an idle handle closed with its environment: see kept_alive
                out[wid] = (at, why, last)
        return out

    def _lost_finding(self, w: Work, at: int, why: str, inv: int | None) -> Finding:
        never = "never finished" if w.span_head >= 0 else "never ran"
        msg = f"{w.label()} {_created(w)} {never}: it was pending when {why}"
        if inv is not None:
            msg += f" (after {_inv_name(inv)})"
        f = _finding("lost", w, inv, msg)
        f.timings = {"created_ns": w.created_ns, "lost_ns": at}
        return f

    def _dropped(self, w: Work) -> bool:
        if w.cancel_ns is not None:
            return w.cancel_reason is not None and w.cancel_reason not in USER_CANCEL_REASONS
        # Cancelled with no cancel request recorded: the runtime discarded it.
        return w.status == "cancelled"

    def _dropped_finding(self, w: Work) -> Finding:
        by = f"by {w.cancel_reason}" if w.cancel_reason else "by the runtime"
        at = w.cancel_ns if w.cancel_ns is not None else w.done_ns
        inv = w.cancel_inv if w.cancel_ns is not None else self._inv_at(at)
        never = "before it ever ran" if w.span_head < 0 else "before it finished"
        msg = f"{w.label()} {_created(w)} was cancelled {by} {never}: {_hint(w)}"
        f = _finding("dropped", w, inv, msg)
        f.timings = {"created_ns": w.created_ns, "dropped_ns": at if at is not None else 0}
        f.details = {"reason": w.cancel_reason}
        return f

    def _inv_at(self, ts: int | None) -> int | None:
        """The invocation that had started last at `ts` (None before the first)."""
        if ts is None:
            return None
        k = bisect_right(self.starts, ts)
        return self.trace.invocations[k - 1].index if k else None

    # -- findings about one invocation -----------------------------------------------------------

    def _names(self, ids: list[int]) -> str:
        labels = [self.works[i].label() if i in self.works else f"work {i}" for i in ids[:3]]
        more = f" and {len(ids) - 3} more" if len(ids) > 3 else ""
        return ", ".join(labels) + more

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
        first = self.works.get(inv.held_by[0]) if inv.held_by else None
        f = _finding("held_response", first, inv.index, msg)
        f.timings = {
            "respond_call_ns": inv.respond_call_ns or 0,
            "respond_post_ns": inv.respond_post_ns or 0,
            "held_ns": inv.held_ns,
        }
        f.details = {"held_by": list(inv.held_by)}
        return f

    def _timeout(self, inv: Invocation, answered: int, via: str) -> Finding:
        keepers = list(inv.held_by)
        if not keepers:
            env = self.envs.get(inv.env)
            for wid in env.lost if env else []:
                w = self.works.get(wid)
                if w is not None and w.ref and w.type in LOOP_KEEPERS and w.role != "handler":
                    keepers.append(wid)
        end = inv.respond_post_ns if inv.respond_post_ns is not None else inv.end_ns
        end = end if end is not None else answered
        by = (
            f"ref'd handles kept the loop busy: {self._names(keepers)}"
            if keepers
            else ("something kept the loop busy")
        )
        msg = (
            f"{_inv_name(inv.index)} answered via {via} {format_ns(answered - inv.start_ns)} in "
            f"but timed out after {format_ns(end - inv.start_ns)}: {by}; close or unref them"
        )
        first = self.works.get(keepers[0]) if keepers else None
        f = _finding("timeout_keepalive", first, inv.index, msg)
        f.timings = {"respond_call_ns": answered, "timeout_ns": end, "waited_ns": end - answered}
        f.details = {"kept_by": keepers}
        return f

    # -- errors and logs out of place ------------------------------------------------------------

    def errors(self, notes: LoadNotes) -> list[Finding]:
        out: list[Finding] = []
        for e in notes.errors:
            w = self.works[e.work]
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
            w = self.works[note.work]
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
        for wid, after in self.idle_at.items():
            w = self.works[wid]
            if wid in flagged:
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
