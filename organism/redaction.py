"""Secrets out of everything Organism writes: dead letters, logs, results, events.

:func:`redact` is the one scrubber. It replaces values under secret-sounding keys, bearer tokens,
``key=value`` secrets and OpenAI-style ``sk-`` keys inside any text.
"""

from __future__ import annotations

import re
from typing import Any

_SECRET_WORDS = r"pass(?:word)?|secret|token|api[-_]?key|authori[sz]ation|credential|cookie"
_SECRET_KEY = re.compile(_SECRET_WORDS, re.I)
# "Bearer <token>", "token=<value>" / "password: <value>", and OpenAI-style "sk-..." keys inside any text.
_SECRET_VALUE = re.compile(rf"(?i)(\bbearer\s+|\b(?:{_SECRET_WORDS})\s*[=:]\s*)[^\s,;&'\"]+|\bsk-[A-Za-z0-9_-]{{8,}}")
REDACTED = "***"


def redact(value: Any) -> Any:
    """``value`` with secrets replaced: values under secret-sounding keys, bearer tokens, ``sk-`` keys."""
    if isinstance(value, dict):
        return {k: REDACTED if isinstance(k, str) and _SECRET_KEY.search(k) else redact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return _SECRET_VALUE.sub(lambda m: f"{m.group(1) or ''}{REDACTED}", value)
    return value
