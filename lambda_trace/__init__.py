"""Record, analyse and view what AWS Lambda handlers leak between invocations."""

__version__ = "0.1.0"
