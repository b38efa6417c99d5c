"""Payloads in traces: size and hash by default; the value itself only when asked, with secrets
redacted."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import orjson

SECRET_KEY = re.compile(
    r"pass(word|wd)?|secret|token|authori[sz]ation|api[-_]?key|cookie|credential|private[-_]?key",
    re.IGNORECASE,
)
REDACTED = "[redacted]"


def encode(value: Any) -> bytes:
    """Canonical JSON of a payload (sorted keys; unknown types as their repr)."""
    return orjson.dumps(value, default=repr, option=orjson.OPT_SORT_KEYS)


def digest(value: Any) -> tuple[int, str]:
    """(size in bytes, sha256 hex) of the canonical JSON."""
    data = encode(value)
    return len(data), hashlib.sha256(data).hexdigest()


def redact(value: Any) -> Any:
    """A copy with the values of secret-looking keys replaced, at any depth."""
    if isinstance(value, dict):
        return {
            k: REDACTED if isinstance(k, str) and SECRET_KEY.search(k) else redact(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return value


def payload_fields(prefix: str, value: Any, record: bool) -> dict[str, Any]:
    """`{prefix}_size`, `{prefix}_sha256` and, with record=True, `{prefix}` redacted."""
    size, sha = digest(value)
    fields: dict[str, Any] = {f"{prefix}_size": size, f"{prefix}_sha256": sha}
    if record:
        fields[prefix] = redact(value)
    return fields
