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


def module_name(source: Path) -> str:
    """File name of the module built from `source`, for this interpreter."""
    return source.stem + str(sysconfig.get_config_var("EXT_SUFFIX"))


def compiler() -> list[str] | None:
    """The interpreter's C compiler command, or None when it is not installed."""
    cc = shlex.split(sysconfig.get_config_var("CC") or "cc")
    return cc if shutil.which(cc[0]) else None


def build(source: Path, cc: list[str], out: Path | None = None) -> Path:
    """Compile `source` to `out` (default: beside it) unless `out` is newer; returns `out`."""
    out = out or source.with_name(module_name(source))
    if out.exists() and out.stat().st_mtime >= source.stat().st_mtime:
        return out
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
