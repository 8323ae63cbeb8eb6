"""Secrets out of everything Organism writes: dead letters, logs, results, events.

:func:`redact` is the one scrubber. It replaces values under secret-sounding keys, the password of a URL
(``scheme://user:***@host``), bearer tokens, ``key=value`` and ``"key": "value"`` secrets and OpenAI-style
``sk-`` keys inside any text, dictionary keys included. Given ``max_chars``, it also cuts each longer text to
its head and tail with a marker that says how much was cut, for what goes to a log, an event or a stored error.
:func:`hide_known` hides given texts wherever they occur: the arguments of a call declared sensitive.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

_SECRET_WORDS = r"pass(?:word|wd)?|secret|token|api[-_]?key|authori[sz]ation|credential|cookie"
_SECRET_KEY = re.compile(_SECRET_WORDS, re.I)
# Not after a letter or digit (so "db_password" counts and "compass" does not), then "Bearer <token>", an
# OpenAI-style key, or a secret's name with an optional closing quote (repr and JSON keys), "=" or ":", an
# optional scheme (Authorization: Bearer ...), and the value: quoted in full, or up to a separator.
_SECRET_VALUE = re.compile(
    rf"(?i)(?<![^\W_])(?:(?P<lead>bearer\s+|(?:{_SECRET_WORDS})[\"']?\s*[=:]\s*(?:(?:bearer|basic|token)\s+)?)"
    r"(?P<value>\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'|[\"']?[^\s,;&'\"]+)"
    r"|sk-[A-Za-z0-9_-]{8,})")
# "scheme://user:password@host" and "scheme://:password@host": the password runs to the last "@" before the
# path, so one holding a raw "@" is hidden whole.
_URL_PASSWORD = re.compile(r"(?i)(?P<lead>\b[a-z][a-z0-9+.-]*://[^\s/?#@:'\"<>]*:)[^\s/?#'\"<>]+(?=@)")
# Text beyond a cut is still read this far, so a secret (up to this long) that straddles it is recognised whole.
_LOOKAHEAD_CHARS = 1024
REDACTED = "***"
# Texts that are all ASCII and hold none of these (lowercased) cannot match the patterns above: each of their
# matches holds a secret word's first letters, "bearer", "sk-" or "://". Most texts (names, ids, numbers, log
# lines) hold none, and this test costs a tenth of the patterns' scan. Outside ASCII, case-insensitive matching
# also takes letters that lowercasing does not give (the long s, the Kelvin sign), so there the patterns decide.
_TRIGGERS = ("pass", "secret", "token", "api", "authori", "credential", "cookie")
_TEXT_TRIGGERS = (*_TRIGGERS, "bearer", "sk-", "://")


def _may_match(text: str, triggers: tuple[str, ...]) -> bool:
    if not text.isascii():
        return True
    lowered = text.lower()
    for trigger in triggers:  # noqa: SIM110 (a loop is twice as fast as any() over a generator here)
        if trigger in lowered:
            return True
    return False


def _hide(match: re.Match[str]) -> str:
    lead, value = match.group("lead"), match.group("value")
    if lead is None:  # an sk- key
        return REDACTED
    quote = value[0] if value[0] in "'\"" else ""
    return f"{lead}{quote}{REDACTED}{quote if value[-1:] == quote and len(value) > 1 else ''}"


def redact_text(text: str, max_chars: int | None = None) -> str:
    """``text`` with URL passwords, bearer tokens, named secrets and ``sk-`` keys replaced by ``***``.

    With ``max_chars``, a longer text keeps its head and its tail (where a traceback names the error), about
    ``max_chars`` in all, around a marker that says how much was cut; only those parts are scanned, so a 10 MB
    text costs no more than a short one.
    """
    if max_chars is not None and len(text) > max_chars:
        head_chars = max_chars // 2
        tail_chars = max_chars - head_chars
        head = redact_text(text[:head_chars + _LOOKAHEAD_CHARS])[:head_chars]
        tail = redact_text(text[-(tail_chars + _LOOKAHEAD_CHARS):])[-tail_chars:] if tail_chars else ""
        return f"{head} ...[{len(text) - max_chars} of {len(text)} characters cut]... {tail}"
    if not _may_match(text, _TEXT_TRIGGERS):
        return text
    return _SECRET_VALUE.sub(_hide, _URL_PASSWORD.sub(rf"\g<lead>{REDACTED}", text))


def _secret_key(key: str) -> bool:
    return _may_match(key, _TRIGGERS) and _SECRET_KEY.search(key) is not None


def redact(value: Any, max_chars: int | None = None) -> Any:
    """``value`` with secrets replaced: values under secret-sounding keys, and secrets inside any text.

    With ``max_chars``, every text in it is also cut to that length (see :func:`redact_text`).
    """
    if isinstance(value, dict):
        return {redact_text(k, max_chars) if isinstance(k, str) else k:
                REDACTED if isinstance(k, str) and _secret_key(k) else redact(v, max_chars)
                for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v, max_chars) for v in value]
    if isinstance(value, str):
        return redact_text(value, max_chars)
    return value


def hide_known(value: Any, known: Collection[str]) -> Any:
    """``value`` with every occurrence of the texts in ``known`` (the arguments of a call declared sensitive)
    replaced by ``***``, in texts and mapping keys at any depth."""
    if not known:
        return value
    pattern = re.compile("|".join(map(re.escape, sorted(known, key=len, reverse=True))))

    def hide(item: Any) -> Any:
        if isinstance(item, str):
            return pattern.sub(REDACTED, item)
        if isinstance(item, dict):
            return {hide(k): hide(v) for k, v in item.items()}
        if isinstance(item, list):
            return [hide(v) for v in item]
        if isinstance(item, tuple):
            return tuple(hide(v) for v in item)
        return item

    return hide(value)
