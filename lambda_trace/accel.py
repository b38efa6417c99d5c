"""The optional C accelerators, found at import: each is None when not built or when
LAMBDA_TRACE_PURE=1, and the pure-Python code it speeds up then runs instead (same results).

`make` builds them in place (tools/build_ext.py); a wheel built without them still works.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

PURE_ENV = "LAMBDA_TRACE_PURE"


def optional(module: str) -> Any:
    """The C module `module` (dotted name), or None: not built, or pure Python asked for."""
    if os.environ.get(PURE_ENV) == "1":
        return None
    try:
        return importlib.import_module(module)
    except ImportError:
        return None
