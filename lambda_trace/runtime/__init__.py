"""The emulated Lambda execution environment: supervisor, runtime profiles, instrumented loop,
tracer. `Environment` is the entry point."""

from .invocation import InvokeResult
from .supervisor import Environment

__all__ = ["Environment", "InvokeResult"]
