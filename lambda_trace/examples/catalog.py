"""The scenario gallery: one plain-data entry per example handler, with how to record it and what
its trace must show. Used by `record_all`, the tests, the README and the demo screen."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

EXAMPLES_DIR = Path(__file__).resolve().parent
PACKAGE_ROOT = EXAMPLES_DIR.parent.parent
"""The folder holding the `lambda_trace` package: recordings run from here so the handler path in
a trace's header is `lambda_trace/examples/<file>.py:handler` wherever the checkout lives."""


@dataclass(frozen=True)
class Scenario:
    """One example handler and the deterministic recording made of it."""

    id: str
    title: str
    """One line."""
    story: str
    """Two or three sentences: what the developer meant, what bites."""
    module: str
    """File name (without .py) in lambda_trace/examples/."""
    findings: tuple[str, ...]
    """Finding categories (DESIGN.md) the trace must produce."""
    events: tuple[dict[str, Any], ...] = ({},)
    """Invocation events, used in turn."""
    n: int = 3
    profile: str = "node"
    freeze_for_ns: int = 1_000_000_000
    timeout_ns: int = 3_000_000_000
    reclaim_after: int | None = None
    function: str = "handler"
    tags: tuple[str, ...] = field(default=())

    @property
    def handler(self) -> str:
        """Handler spec relative to PACKAGE_ROOT (what `lambda-trace record` takes)."""
        return f"lambda_trace/examples/{self.module}.py:{self.function}"

    @property
    def trace_name(self) -> str:
        return f"{self.id}.jsonl"

    def event(self, i: int) -> dict[str, Any]:
        """The event of invocation i (0-based)."""
        return self.events[i % len(self.events)]

    def command(self) -> str:
        """The equivalent `lambda-trace record` command line (events aside)."""
        parts = ["lambda-trace record", self.handler, "--deterministic", f"-n {self.n}"]
        if self.profile != "node":
            parts.append(f"--profile {self.profile}")
        if self.freeze_for_ns != 1_000_000_000:
            parts.append(f"--freeze-for {self.freeze_for_ns / 1e9:g}s")
        if self.timeout_ns != 3_000_000_000:
            parts.append(f"--timeout {self.timeout_ns / 1e9:g}s")
        if self.reclaim_after is not None:
            parts.append(f"--reclaim-after {self.reclaim_after}")
        parts.append(f"-o traces/{self.trace_name}")
        return " ".join(parts)


def _orders(*numbers: int) -> tuple[dict[str, Any], ...]:
    return tuple({"order": n} for n in numbers)


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        id="succeed_pending_write",
        title="context.succeed() with a DB write pending: the write runs in the next invocation",
        story=(
            "The article's handler fires a DB write and calls context.succeed() at once. "
            "succeed() answers and freezes the environment a turn later, so the write completes "
            "after the thaw, inside the next invocation, logging under the old request id."
        ),
        module="succeed_pending_write",
        events=_orders(101, 102, 103),
        findings=("pending_at_freeze", "crossed_invocation", "log_misattributed", "lost"),
    ),
    Scenario(
        id="callback_held",
        title="callback() with the default flag: the response is held until the write finishes",
        story=(
            "The same handler with callback(None, result) and callbackWaitsForEmptyEventLoop "
            "left true. The runtime waits for an empty event loop, so the caller waits for the "
            "120 ms write although the handler returned at once; nothing leaks."
        ),
        module="callback_held",
        events=_orders(101, 102, 103),
        findings=("held_response",),
    ),
    Scenario(
        id="callback_no_wait_pool",
        title="callbackWaitsForEmptyEventLoop = False with a pool: instant answers, leaking writes",
        story=(
            "The article author's fix: the flag set to false so the pooled DB socket does not "
            "hold every response. Answers go out right after the UPDATE, but the audit entry "
            "started in the background finishes in the next invocation; the idle socket is kept."
        ),
        module="callback_no_wait_pool",
        events=_orders(101, 102, 103),
        findings=(
            "pending_at_freeze",
            "crossed_invocation",
            "kept_alive",
            "log_misattributed",
            "lost",
        ),
    ),
    Scenario(
        id="interval_timeout",
        title="A forgotten setInterval makes a callback handler time out",
        story=(
            "The handler starts a progress-reporting interval and calls back. With the default "
            "flag the runtime waits for an empty loop, which a repeating timer never allows: "
            "Task timed out, the environment is killed, the next invocation cold-starts."
        ),
        module="interval_timeout",
        events=({"job": "import-7"}, {"job": "import-8"}),
        n=2,
        timeout_ns=1_000_000_000,
        findings=("timeout_keepalive", "lost"),
    ),
    Scenario(
        id="open_socket_timeout",
        title="An open DB connection keeps the loop busy: the callback handler times out",
        story=(
            "A DB client connects lazily and keeps its socket for reuse. The open socket keeps "
            "Node's event loop alive, so callback() with the default flag never answers: every "
            "invocation times out and cold-starts, and the connection is never reused."
        ),
        module="open_socket_timeout",
        events=({},),
        n=2,
        timeout_ns=1_000_000_000,
        findings=("timeout_keepalive",),
    ),
    Scenario(
        id="gather_half",
        title="Half of an asyncio.gather finishes in the next invocation",
        story=(
            "Four lookups run in one gather; the handler calls succeed() once the two the page "
            "needs are in. The slow half is frozen mid-flight and completes after the thaw, "
            "inside the next invocation."
        ),
        module="gather_half",
        events=({"user": "ada"}, {"user": "grace"}, {"user": "linus"}),
        findings=("pending_at_freeze", "crossed_invocation", "log_misattributed", "lost"),
    ),
    Scenario(
        id="leftover_rejection",
        title="A task failing after the response fails the next invocation",
        story=(
            "The handler answers with succeed() and leaves an audit upload running; the upload "
            "fails 100 ms later, after the freeze. The failure surfaces after the thaw and is "
            "billed to invocation 2, which crashes; the environment resets."
        ),
        module="leftover_rejection",
        events=_orders(101, 102, 103),
        findings=("error_misattributed", "crossed_invocation", "pending_at_freeze", "lost"),
    ),
    Scenario(
        id="fire_and_forget_http",
        title="A fire-and-forget HTTP call finishes in a later invocation, or is lost",
        story=(
            "An async handler posts an analytics event without awaiting it. Invocation 1's call "
            "completes inside invocation 2; invocation 2's is still in flight when the idle "
            "environment is reclaimed, and is lost."
        ),
        module="fire_and_forget_http",
        events=({"page": "/home"}, {"page": "/cart"}, {"page": "/checkout"}),
        reclaim_after=2,
        findings=("pending_at_freeze", "crossed_invocation", "lost", "log_misattributed"),
    ),
    Scenario(
        id="metrics_flush",
        title="A metrics buffer frozen mid-flush: telemetry sent and logged in the next invocation",
        story=(
            "The handler buffers metrics and flushes them in the background in three batches. "
            "The environment freezes with the flush barely started; the batches go out during "
            "the next invocation, their log lines tagged with the wrong request id."
        ),
        module="metrics_flush",
        events=_orders(101, 102, 103),
        findings=("pending_at_freeze", "crossed_invocation", "log_misattributed", "lost"),
    ),
    Scenario(
        id="pool_idle_timer",
        title="A frozen idle-timeout timer closes the pooled connection at the thaw",
        story=(
            "The pool arms a 5 s idle timer on release. After a 10 s freeze the timer is overdue, "
            "fires right after the thaw and closes the socket the next invocation then uses: "
            "'connection is closed'."
        ),
        module="pool_idle_timer",
        events=({"sku": "A1"}, {"sku": "B2"}, {"sku": "C3"}),
        freeze_for_ns=10_000_000_000,
        findings=(
            "pending_at_freeze",
            "crossed_invocation",
            "kept_alive",
            "log_misattributed",
            "lost",
        ),
    ),
    Scenario(
        id="clock_jump_interval",
        title="Intervals see the clock jump after a long freeze: a burst of overdue ticks",
        story=(
            "A lease renewer on a fixed one-second schedule and a Node-style setInterval run "
            "between invocations. After a 10 s freeze the renewer fires every missed tick back "
            "to back at the thaw and the interval fires once, 10 s late."
        ),
        module="clock_jump_interval",
        freeze_for_ns=10_000_000_000,
        findings=("pending_at_freeze", "crossed_invocation", "log_misattributed", "lost"),
    ),
    Scenario(
        id="node24_migration",
        title="Node.js 24: the article's handler migrated to async/await leaks nothing",
        story=(
            "nodejs24.x removed callback handlers, succeed/fail/done and the flag. The migrated "
            "handler awaits its write and returns the result: every write finishes inside its "
            "own invocation and nothing is pending at any freeze."
        ),
        module="node24_migration",
        profile="node24",
        events=_orders(101, 102, 103),
        findings=(),
    ),
    Scenario(
        id="node24_callback_rejected",
        title="Node.js 24: a three-parameter callback handler fails INIT",
        story=(
            "The unmigrated callback handler on nodejs24.x. INIT fails with "
            "Runtime.CallbackHandlerDeprecated and every invocation is answered with that error "
            "from a fresh environment; the handler never runs."
        ),
        module="node24_migration",
        function="legacy_handler",
        profile="node24",
        events=_orders(101, 102),
        n=2,
        findings=(),
    ),
    Scenario(
        id="python_thread_timer",
        title="Python: a threading.Timer fires only in the next invocation",
        story=(
            "The handler sends a receipt on a threading.Timer and returns. The Python runtime "
            "answers at once and freezes the environment with the timer thread asleep; it fires "
            "overdue right after the thaw, inside the next invocation."
        ),
        module="python_thread_timer",
        profile="python",
        events=_orders(101, 102, 103),
        findings=("pending_at_freeze", "crossed_invocation", "log_misattributed", "lost"),
    ),
    Scenario(
        id="python_asyncio_run_drop",
        title="Python: asyncio.run() per invocation silently drops a fire-and-forget task",
        story=(
            "Each invocation runs its async code with asyncio.run() and starts an analytics call "
            "without awaiting it. asyncio.run() cancels the task when main() returns: nothing "
            "leaks, and the analytics event is never sent."
        ),
        module="python_asyncio_run_drop",
        profile="python",
        events=({"page": "/home"}, {"page": "/cart"}),
        n=2,
        findings=("dropped",),
    ),
    Scenario(
        id="python_module_loop",
        title="Python: a module-level event loop leaks a task into the next invocation",
        story=(
            "The module creates one event loop and each invocation drives it with "
            "run_until_complete(). An audit task started but not awaited stays suspended at the "
            "freeze and resumes during the next invocation's run_until_complete."
        ),
        module="python_module_loop",
        profile="python",
        events=_orders(101, 102, 103),
        findings=("pending_at_freeze", "crossed_invocation", "log_misattributed", "lost"),
    ),
)
"""Every scenario, in the order the gallery shows them."""

BY_ID: dict[str, Scenario] = {s.id: s for s in SCENARIOS}
