"""The C accelerator (`_fastrec`) writes exactly what the pure-Python recorder writes.

In one process both paths are available: the tracer hands the writer to the C core only when the
writer's clock is the emulated clock itself, so a writer given a plain function as its clock takes
the pure-Python paths (`pure=True` below).
"""

from __future__ import annotations

import asyncio
import contextvars
import gc
import itertools
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import orjson
import pytest

from lambda_trace.examples.catalog import PACKAGE_ROOT
from lambda_trace.model.writer import TraceWriter
from lambda_trace.runtime._accel import PURE_ENV, fastrec
from lambda_trace.runtime.clock import EmulatedClock
from lambda_trace.runtime.loop import TracedLoop
from lambda_trace.runtime.tracer import Tracer, created_in_var

needs_ext = pytest.mark.skipif(
    fastrec is None,
    reason="C accelerator not built (make ext) or LAMBDA_TRACE_PURE=1",
)


def _recorder(path: Path, *, pure: bool) -> tuple[TraceWriter, Tracer, TracedLoop]:
    clock = EmulatedClock("virtual")
    now = (lambda: clock.now_ns()) if pure else clock.now_ns
    writer = TraceWriter(path, {"profile": "python", "clock": "virtual"}, clock=now)
    tracer = Tracer(writer, clock, root=str(Path(__file__).parent))
    loop = TracedLoop(tracer, clock, fatal_uncaught=False, report_drops=True)
    assert (tracer.core is None) == (pure or fastrec is None)
    return writer, tracer, loop


async def _leaf(i: int) -> int:
    await asyncio.sleep(0)
    if i % 7 == 3:
        raise ValueError(f"leaf {i}")
    await asyncio.sleep(0.001 * (i % 3))
    return i


async def _workload() -> asyncio.Task[int]:
    loop = asyncio.get_running_loop()
    for batch in range(3):
        results = await asyncio.gather(
            *[_leaf(batch * 10 + i) for i in range(10)], return_exceptions=True
        )
        assert len(results) == 10
    sleeper = asyncio.create_task(asyncio.sleep(10), name="sleeper")
    await asyncio.sleep(0)
    sleeper.cancel()
    fired: list[int] = []
    loop.call_soon(fired.append, 1)
    handle = loop.call_later(0.5, fired.append, 2)
    loop.call_later(0.01, fired.append, 3)
    await asyncio.sleep(0.02)
    handle.cancel()
    task = asyncio.create_task(_leaf(1))
    task.set_name("renamed")
    await task
    orphan = asyncio.create_task(_leaf(3))  # fails with nobody listening
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    loop.call_later(5, fired.append, 4)  # still scheduled at close: dropped
    return orphan


def _record(path: Path, *, pure: bool) -> bytes:
    writer, tracer, loop = _recorder(path, pure=pure)
    try:
        tracer.invocation = 1
        orphan = loop.run_until_complete(_workload())
        tracer.invocation = None
    finally:
        loop.close()
        writer.close()
    _retrieved(orphan)
    return path.read_bytes()


def _retrieved(task: asyncio.Task[object]) -> None:
    """Mark a failed task's exception retrieved and collect the loop now: a task logging "never
    retrieved" from a later garbage collection formats a traceback, and on CPython 3.11.7 that
    can land inside pytest's own `ast.parse` and break it (gh-106905)."""
    assert task.exception() is not None
    gc.collect()


@needs_ext
def test_c_and_pure_paths_write_the_same_bytes(tmp_path: Path) -> None:
    # One call site for both: the root task's creation stack names it.
    fast, slow = [_record(tmp_path / f"{pure}.jsonl", pure=pure) for pure in (False, True)]
    assert fast.count(b"\n") > 200
    assert fast == slow


async def _child(n: int) -> int:
    await asyncio.sleep(0)
    return n


def _spawn(coro: Any, depth: int, **kwargs: Any) -> asyncio.Task[int]:
    """Creates from the same line at several stack depths (more than STACK_DEPTH, too)."""
    if depth > 0:
        return _spawn(coro, depth - 1, **kwargs)
    return asyncio.get_running_loop().create_task(coro, **kwargs)


async def _creations() -> None:
    """Task creation as the C factory sees it: many sites, depths and names, from tasks,
    callbacks, timers and another thread, in different invocations and contexts."""
    loop = asyncio.get_running_loop()
    tasks = [_spawn(_child(d), d) for d in range(10)]
    tasks += [_spawn(_leaf(d), d % 3) for d in range(4, 6)]  # same line, another name
    tasks.append(_spawn(_child(0), 2, name="named"))  # name set after creation
    late = _spawn(_child(1), 0)
    late.set_name("renamed later")
    tasks.append(late)
    done = loop.create_future()
    loop.call_soon(lambda: tasks.append(loop.create_task(_child(2))))
    loop.call_later(0.001, lambda: done.set_result(loop.create_task(_child(3))))
    tasks.append(await done)
    await asyncio.gather(*tasks, return_exceptions=True)

    # A plain thread (it writes no events itself, so the order stays fixed) has the loop create
    # a task; an executor job would race its work.begin with the end of the step that made it.
    from_thread = loop.create_future()

    def in_thread() -> None:
        n = asyncio.run_coroutine_threadsafe(_child(4), loop).result()
        loop.call_soon_threadsafe(from_thread.set_result, n)

    thread = threading.Thread(target=in_thread)
    thread.start()
    await from_thread
    thread.join()
    created_in_var.set(7)  # the invocation that started this work, as the runtime sets it
    tasks.append(asyncio.ensure_future(_child(5)))
    for n in range(3):
        tasks.append(asyncio.create_task(_child(n)))
        tasks.append(asyncio.create_task(asyncio.sleep(0)))  # asyncio's own coroutine
    await asyncio.gather(*tasks, return_exceptions=True)

    class NotACoroutine:
        """Passes the factory's checks; the Task refuses it after the work.create (as in Python)."""

        cr_code = _child.__code__

        def __init__(self) -> None:
            self.__qualname__ = "not a coroutine"

    with pytest.raises(TypeError):
        loop.create_task(NotACoroutine())  # type: ignore[arg-type]  # noqa: RUF006


@needs_ext
def test_task_creation_writes_the_same_bytes_on_both_paths(tmp_path: Path) -> None:
    outputs = []
    for pure in (False, True):
        path = tmp_path / f"{pure}.jsonl"
        writer, tracer, loop = _recorder(path, pure=pure)
        try:
            tracer.invocation = 0  # INIT
            loop.run_until_complete(_creations())
            tracer.invocation = 3
            loop.run_until_complete(contextvars.copy_context().run(_creations))
        finally:
            loop.close()
            writer.close()
        gc.collect()
        outputs.append(path.read_bytes())
    assert outputs[0] == outputs[1]
    creates = [orjson.loads(x) for x in outputs[0].splitlines() if b'"work.create"' in x]
    assert len({len(e["stack"]) for e in creates}) >= 4
    assert {e["created_in"] for e in creates} >= {0, 7}
    assert b'"kind":"work.name"' in outputs[0]


@needs_ext
def test_step_exception_propagates_after_work_end(tmp_path: Path) -> None:
    async def boom() -> None:
        await asyncio.sleep(0)
        raise KeyboardInterrupt

    outputs = []
    for pure in (False, True):
        path = tmp_path / f"{pure}.jsonl"
        writer, tracer, loop = _recorder(path, pure=pure)
        try:
            task = loop.create_task(boom())
            with pytest.raises(KeyboardInterrupt):
                loop.run_until_complete(task)
            assert tracer.current_work is None
        finally:
            loop.close()
            writer.close()
        _retrieved(task)
        outputs.append(path.read_bytes())
    assert outputs[0] == outputs[1]
    assert b'"kind":"work.end"' in outputs[0]


@needs_ext
def test_threads_and_loop_share_one_seq_order(tmp_path: Path) -> None:
    """Executor jobs and plain threads emit while the loop's C paths do: seq strictly in file
    order, ts never backwards, ids unique."""
    path = tmp_path / "t.jsonl"
    writer, tracer, loop = _recorder(path, pure=False)

    def job(n: int) -> int:
        for i in range(300):
            tracer.emit("log", {"stream": "stdout", "text": f"job {n} line {i}"})
            if i % 50 == 0:
                tracer.create("timer", f"job{n}", parent=None)
        return n

    def thread_body(n: int) -> None:
        for i in range(300):
            tracer.emit("log", {"stream": "stderr", "text": f"thread {n} line {i}"})
            if i % 100 == 0:
                writer.flush()

    async def main() -> None:
        jobs = [loop.run_in_executor(None, job, n) for n in range(3)]
        for _ in range(20):
            await asyncio.gather(*[_leaf(i) for i in range(20)], return_exceptions=True)
        await asyncio.gather(*jobs)

    threads = [threading.Thread(target=thread_body, args=(n,)) for n in range(2)]
    try:
        for t in threads:
            t.start()
        loop.run_until_complete(main())
        for t in threads:
            t.join()
    finally:
        loop.close()
        writer.close()
    events = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    assert [e["seq"] for e in events] == list(range(len(events)))
    assert all(a["ts"] <= b["ts"] for a, b in itertools.pairwise(events))
    created = [e["work"] for e in events if e["kind"] == "work.create"]
    assert len(created) == len(set(created))
    assert sum(e["kind"] == "log" for e in events) == 3 * 300 + 2 * 300


def _env(pure: bool) -> dict[str, str]:
    env = dict(os.environ)
    env.pop(PURE_ENV, None)
    if pure:
        env[PURE_ENV] = "1"
    return env


def test_pure_env_var_takes_the_python_paths() -> None:
    code = (
        "from lambda_trace.runtime._accel import fastrec\n"
        "from lambda_trace.runtime.clock import EmulatedClock\n"
        "from lambda_trace.model.writer import TraceWriter\n"
        "from lambda_trace.runtime.tracer import Tracer\n"
        "from lambda_trace.runtime.loop import TracedLoop\n"
        "import tempfile, os\n"
        "clock = EmulatedClock('virtual')\n"
        "path = os.path.join(tempfile.mkdtemp(), 't.jsonl')\n"
        "writer = TraceWriter(path, {}, clock=clock.now_ns)\n"
        "tracer = Tracer(writer, clock, root='.')\n"
        "loop = TracedLoop(tracer, clock)\n"
        "print(fastrec is None, tracer.core is None, 'call_soon' in vars(loop),"
        " type(clock).__mro__[1].__name__)\n"
        "loop.close(); writer.close()\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=_env(True), capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["True", "True", "False", "object"]


@needs_ext
def test_extension_is_taken_without_the_env_var() -> None:
    code = (
        "from lambda_trace.runtime._accel import fastrec\n"
        "from lambda_trace.runtime.clock import EmulatedClock\n"
        "print(fastrec is not None, type(EmulatedClock('virtual')).__mro__[1].__name__)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=_env(False), capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["True", "ClockBase"]


@needs_ext
@pytest.mark.timeout(300)
def test_gallery_recorded_with_and_without_the_extension_is_identical(tmp_path: Path) -> None:
    """Every scenario (threads, executor jobs, sockets...), recorded in its own processes with
    the C paths and with LAMBDA_TRACE_PURE=1, gives the same bytes."""
    for pure in (False, True):
        subprocess.run(
            [sys.executable, "-m", "lambda_trace.examples.record_all", str(tmp_path / str(pure))],
            env=_env(pure),
            cwd=PACKAGE_ROOT,
            capture_output=True,
            check=True,
        )
    fast = sorted((tmp_path / "False").iterdir())
    assert len(fast) >= 16
    for path in fast:
        assert path.read_bytes() == (tmp_path / "True" / path.name).read_bytes(), path.name


_EXTREMES = """
import sys
from lambda_trace.model.writer import TraceWriter
from lambda_trace.runtime.clock import EmulatedClock
from lambda_trace.runtime._accel import fastrec

path = sys.argv[1]
clock = EmulatedClock("virtual")
core = fastrec.Core(clock, 2**62, 0, 1, 10_000, 1 << 20)
lowest = -(2**63)
for _ in range(200):
    core.emit_raw(b'"kind":"mark","inv":null,"label":"x"', b"}\\n", ts=2**62)
    core.emit_work(b"work.begin", b"%d" % lowest, lowest)
core.stopped = False
with open(path, "wb") as fh:
    fh.write(core.take())
uninit = fastrec.Core.__new__(fastrec.Core)
try:
    uninit.emit_work(b"work.end", b"1", 1)
except RuntimeError:
    print("refused")
del core.drain
core.emit_work(b"work.end", b"1", 1)
print("ok")
"""


@needs_ext
def test_longest_lines_fit_and_a_half_made_core_raises(tmp_path: Path) -> None:
    """The core reserves room for the longest numbers (20 characters each): lines of 19-20 digit
    seq, ts and ids, under the debug allocator that aborts on a write past a block; a core made
    without __init__ raises instead of crashing, and one whose drain was deleted keeps going."""
    out = tmp_path / "lines.jsonl"
    run = subprocess.run(
        [sys.executable, "-c", _EXTREMES, str(out)],
        env={**os.environ, "PYTHONMALLOC": "debug"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["refused", "ok"]
    lines = out.read_bytes().splitlines()
    assert len(lines) == 400
    work = orjson.loads(lines[1])
    assert work == {
        "seq": 2**62 + 1,
        "ts": 2**62,
        "kind": "work.begin",
        "inv": -(2**63),
        "work": -(2**63),
    }


_TWIN = """import asyncio


async def twin() -> None:
    await asyncio.sleep(0)


def start() -> asyncio.Task[None]:
    return asyncio.get_running_loop().create_task(twin())
"""


@pytest.mark.parametrize("pure", [True, False], ids=["pure", "c"])
def test_identical_functions_in_two_files_keep_their_own_sites(tmp_path: Path, pure: bool) -> None:
    """On 3.11 two identical functions at the same line of two files have equal code objects;
    the creation-site caches must still tell the files apart."""
    if not pure and fastrec is None:
        pytest.skip("C accelerator not built (make ext) or LAMBDA_TRACE_PURE=1")
    import importlib.util

    modules = []
    for name in ("twin_a", "twin_b"):
        source = tmp_path / f"{name}.py"
        source.write_text(_TWIN)
        spec = importlib.util.spec_from_file_location(name, source)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        modules.append(module)
    assert modules[0].twin.__code__ == modules[1].twin.__code__  # the trap

    async def both() -> None:
        await asyncio.gather(modules[0].start(), modules[1].start())

    path = tmp_path / "t.jsonl"
    writer, _tracer, loop = _recorder(path, pure=pure)
    try:
        loop.run_until_complete(both())
    finally:
        loop.close()
        writer.close()
    lines = [orjson.loads(x) for x in path.read_bytes().splitlines()]
    sites = [e["site"] for e in lines if e["kind"] == "work.create" and e["name"] == "twin"]
    assert [s.split(":")[0].rsplit("/", 1)[-1] for s in sites] == ["twin_a.py", "twin_b.py"]
