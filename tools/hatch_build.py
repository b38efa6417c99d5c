"""Wheel build hook (hatchling): put the optional C accelerators into the wheel when a C compiler
is there, so `pip install .` gets them too; without one the wheel stays pure Python and works the
same, slower. Editable installs skip it: `make` builds the modules in place (tools/build_ext.py).
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


def _build_ext() -> Any:
    spec = importlib.util.spec_from_file_location(
        "build_ext", Path(__file__).with_name("build_ext.py")
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class CustomBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or version == "editable":
            return
        build_ext = _build_ext()
        cc = build_ext.compiler()
        if cc is None:
            print("hatch_build: no C compiler: a pure-Python wheel", file=sys.stderr)
            return
        self._tmp = Path(tempfile.mkdtemp(prefix="lambda-trace-ext-"))
        built = 0
        for source in build_ext.SOURCES:
            out = self._tmp / build_ext.module_name(source)
            try:
                build_ext.build(source, cc, out)
            except subprocess.CalledProcessError:
                print(f"hatch_build: {source.name} did not compile: left out", file=sys.stderr)
                continue
            dest = source.relative_to(build_ext.ROOT).with_name(out.name)
            build_data["force_include"][str(out)] = str(dest)
            built += 1
        if built:
            build_data["pure_python"] = False
            build_data["infer_tag"] = True

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        tmp = getattr(self, "_tmp", None)
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
