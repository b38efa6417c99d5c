"""The optional C accelerator of the recorder (`_fastrec.c`, built in place by `make`).

`fastrec` is None when the module is not built (a wheel, a fresh checkout before `make`) or when
`LAMBDA_TRACE_PURE=1`: the pure-Python paths then write byte-identical traces. Read once, at import.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

PURE_ENV = "LAMBDA_TRACE_PURE"


def _load() -> Any:
    if os.environ.get(PURE_ENV) == "1":
        return None
    try:
        return importlib.import_module(f"{__package__}._fastrec")
    except ImportError:
        return None


fastrec: Any = _load()
"""The `_fastrec` module, or None: use the pure-Python paths."""
