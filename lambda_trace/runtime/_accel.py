"""The recorder's optional C accelerator (`_fastrec.c`, built in place by `make`).

`fastrec` is None when the module is not built (a wheel, a fresh checkout before `make`) or when
`LAMBDA_TRACE_PURE=1`: the pure-Python paths then write byte-identical traces. Read once, at import.
"""

from __future__ import annotations

from typing import Any

from ..accel import PURE_ENV, optional

__all__ = ["PURE_ENV", "fastrec"]

fastrec: Any = optional(f"{__package__}._fastrec")
"""The `_fastrec` module, or None: use the pure-Python paths."""
