"""`lambda-trace record`: bad input gets one clear line and exit 2; good input a trace that is
byte-identical under --deterministic."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from lambda_trace.cli import main
from lambda_trace.model.load import load_trace

GOOD = """
import asyncio

async def save(n):
    await asyncio.sleep(0.05)

def handler(event, context):
    asyncio.get_event_loop().create_task(save(event.get("n", 0)), name="save-order")
    context.succeed("ok")
"""


@pytest.fixture
def app(tmp_path: Path) -> Path:
    path = tmp_path / "app.py"
    path.write_text(GOOD)
    return path


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["record", *args])
    return code, capsys.readouterr().err


def test_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run([f"{tmp_path}/nope.py:handler"], capsys)
    assert (code, err) == (
        2,
        f"lambda-trace record: error: handler file not found: {tmp_path}/nope.py\n",
    )


def test_module_not_importable(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run(["no_such_pkg.app:handler"], capsys)
    assert (code, err) == (
        2, "lambda-trace record: error: cannot import module 'no_such_pkg.app': No module named 'no_such_pkg'\n"
    )  # fmt: skip


def test_bad_handler_spec(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run(["app.py"], capsys)
    assert code == 2
    assert err == (
        "lambda-trace record: error: invalid handler 'app.py': use path/to/file.py:function "
        "or package.module:function\n"
    )


def test_syntax_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "broken.py"
    path.write_text("def handler(event, context)\n    return 1\n")
    code, err = run([f"{path}:handler"], capsys)
    assert code == 2
    assert err == f"lambda-trace record: error: syntax error in handler {path}:1: expected ':'\n"


def test_attribute_missing_or_not_callable(
    tmp_path: Path, app: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "t.jsonl"
    code, err = run([f"{app}:missing", "-o", str(out)], capsys)
    assert code == 2
    assert err.splitlines()[-1] == (
        f"lambda-trace record: error: handler 'missing' not found in {app} (trace kept in {out})"
    )
    (tmp_path / "v.py").write_text("handler = 42\n")
    code, err = run([f"{tmp_path}/v.py:handler", "-o", str(out)], capsys)
    assert code == 2
    assert "is not callable (it is a int)" in err.splitlines()[-1]


def test_event_file_not_json(tmp_path: Path, app: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text('{"n": 1}\n{"n": 2\n')
    code, err = run([f"{app}:handler", "--events", str(events)], capsys)
    assert code == 2
    assert err.startswith(f"lambda-trace record: error: {events}:2: not JSON (")
    single = tmp_path / "event.json"
    single.write_text("{\n  nope\n}")
    code, err = run([f"{app}:handler", "--event", str(single)], capsys)
    assert code == 2
    assert err.startswith(f"lambda-trace record: error: {single}:2: event file is not JSON (")
    code, err = run([f"{app}:handler", "--event", str(tmp_path / "missing.json")], capsys)
    assert (code, err) == (
        2,
        f"lambda-trace record: error: event file not found: {tmp_path}/missing.json\n",
    )


def test_bad_duration(app: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["record", f"{app}:handler", "--freeze-for", "10 parsecs"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "argument --freeze-for: invalid duration '10 parsecs'" in err


def test_import_error_is_a_failed_init(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad_import.py"
    path.write_text("import no_such_dependency\n\ndef handler(event, context):\n    pass\n")
    out = tmp_path / "t.jsonl"
    code, err = run([f"{path}:handler", "-o", str(out), "-n", "3"], capsys)
    assert code == 2 and "Traceback" not in err
    assert err.splitlines()[-1] == (
        "lambda-trace record: error: INIT failed: Runtime.ImportModuleError: Unable to import "
        f"module 'bad_import': No module named 'no_such_dependency' (trace kept in {out})"
    )
    trace = load_trace(out)
    assert len(trace.invocations) == 1  # stopped at the first failed INIT
    assert trace.invocations[0].outcome == "error"


def test_deterministic_traces_are_byte_identical(tmp_path: Path, app: Path) -> None:
    outputs = []
    for name in ("a.jsonl", "b.jsonl"):
        out = tmp_path / name
        subprocess.run(
            [sys.executable, "-m", "lambda_trace", "record", f"{app}:handler", "-n", "3",
             "--deterministic", "-o", str(out)],
            check=True, capture_output=True, cwd=tmp_path,
        )  # fmt: skip
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]
    assert b'"created":null' in outputs[0]
    # A task named after creation keeps its name in the model.
    trace = load_trace(tmp_path / "a.jsonl")
    assert "save-order" in {w.name for w in trace.works}


def test_unwritable_output_is_one_line(app: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run([f"{app}:handler", "-o", "/proc/t.jsonl"], capsys)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("lambda-trace record: error: cannot write trace")
