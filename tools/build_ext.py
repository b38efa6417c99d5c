"""Build the optional C accelerator `lambda_trace/runtime/_fastrec` in place (what `make` runs).

No build backend involved: one C file compiled with the interpreter's own compiler settings
(`sysconfig`). Rebuilt only when the source is newer than the module. Without it (a wheel built
from source, `LAMBDA_TRACE_PURE=1`) the recorder takes its pure-Python paths, same bytes.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "lambda_trace" / "runtime" / "_fastrec.c"


def target() -> Path:
    return SOURCE.with_name("_fastrec" + str(sysconfig.get_config_var("EXT_SUFFIX")))


def main() -> int:
    out = target()
    if out.exists() and out.stat().st_mtime >= SOURCE.stat().st_mtime:
        return 0
    cc = shlex.split(sysconfig.get_config_var("CC") or "cc")
    cflags = shlex.split(sysconfig.get_config_var("CCSHARED") or "-fPIC")
    include = sysconfig.get_paths()["include"]
    cmd = [
        *cc,
        *cflags,
        "-shared",
        "-O2",
        "-Wall",
        "-std=c11",
        "-D_POSIX_C_SOURCE=200809L",
        f"-I{include}",
        str(SOURCE),
        "-o",
        str(out) + ".tmp",
    ]
    print(" ".join(cmd), file=sys.stderr)
    subprocess.run(cmd, check=True)
    Path(str(out) + ".tmp").replace(out)  # atomic: a running process never sees half a module
    return 0


if __name__ == "__main__":
    sys.exit(main())
