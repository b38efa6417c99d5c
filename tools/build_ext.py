"""Build the optional C accelerators in place (what `make` runs before the tests and benchmarks).

No build backend involved: each C file is compiled with the interpreter's own compiler settings
(`sysconfig`), only when the source is newer than the module. Without them (a wheel built from
source, no C compiler, `LAMBDA_TRACE_PURE=1`) the pure-Python code they speed up runs instead,
with the same results; the tests that compare the two skip, saying why.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [
    ROOT / "lambda_trace" / "model" / "_fastload.c",
    ROOT / "lambda_trace" / "runtime" / "_fastrec.c",
]


def target(source: Path) -> Path:
    return source.with_name(source.stem + str(sysconfig.get_config_var("EXT_SUFFIX")))


def build(source: Path, cc: list[str]) -> None:
    out = target(source)
    if out.exists() and out.stat().st_mtime >= source.stat().st_mtime:
        return
    cmd = [
        *cc,
        *shlex.split(sysconfig.get_config_var("CCSHARED") or "-fPIC"),
        "-shared",
        "-O2",
        "-Wall",
        "-std=c11",
        "-D_POSIX_C_SOURCE=200809L",
        f"-I{sysconfig.get_paths()['include']}",
        str(source),
        "-o",
        f"{out}.tmp",
    ]
    print(" ".join(cmd), file=sys.stderr)
    subprocess.run(cmd, check=True)  # a compile error is a bug: fail loudly
    Path(f"{out}.tmp").replace(out)  # atomic: a running process never sees half a module


def main() -> int:
    cc = shlex.split(sysconfig.get_config_var("CC") or "cc")
    if shutil.which(cc[0]) is None:
        print(
            f"build_ext: no C compiler ({cc[0]}): the pure-Python paths will run", file=sys.stderr
        )
        return 0
    for source in SOURCES:
        build(source, cc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
