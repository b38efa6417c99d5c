"""Handler output (`print`, `logging`) becomes `log` events tagged with the request id the runtime
would print: the id current *for the runtime*, which for leaked work is the old one."""

from __future__ import annotations

import io
import threading

from .tracer import Tracer


class LogCapture(io.TextIOBase):
    """A text stream that turns each complete line into a `log` event."""

    def __init__(self, tracer: Tracer, stream: str) -> None:
        super().__init__()
        self._tracer = tracer
        self._stream = stream
        self._partial: dict[int, str] = {}
        self._lock = threading.Lock()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        key = threading.get_ident()
        with self._lock:
            buffered = self._partial.pop(key, "") + text
            *lines, rest = buffered.split("\n")
            if rest:
                self._partial[key] = rest
        for line in lines:
            self._emit(line)
        return len(text)

    def flush_partial(self) -> None:
        """Emit unterminated output (before a freeze, so nothing is held across it)."""
        with self._lock:
            partial, self._partial = self._partial, {}
        for line in partial.values():
            self._emit(line)

    def _emit(self, line: str) -> None:
        tracer = self._tracer
        tracer.emit(
            "log",
            {
                "stream": self._stream,
                "text": line,
                "request_id": tracer.request_id,
                "work": tracer.current(),
            },
        )
