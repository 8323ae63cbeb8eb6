"""Graceful degradation: a skill goes on without an optional dependency that is down, and says so.

    @skill(organ="evolution", optional=["memory"])
    def report_keeper(...):
        with optional("memory"):
            history = recall(...)

Inside ``optional("memory")`` an :class:`~organism.errors.Unavailable` for ``memory`` is caught and noted; the
skill's result then carries ``degraded: [{"dependency": "memory", "reason": ...}]`` and its node records it.
A dependency the skill did not declare optional is not caught: the error takes its normal course.

A dependency that fails transiently is retried like any failure; on the call's last attempt (:func:`last_attempt`)
it is as good as down for this call, and whoever reaches it may say so: the gateway turns a model endpoint's
failure then into one that a skill declaring ``optional=["model"]`` goes on without.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from organism.errors import Unavailable

logger = logging.getLogger(__name__)
_notes: ContextVar[list[dict[str, str]] | None] = ContextVar("organism_degraded", default=None)
_declared: ContextVar[frozenset[str]] = ContextVar("organism_optional", default=frozenset())
_last: ContextVar[bool] = ContextVar("organism_last_attempt", default=False)


@contextmanager
def collecting(declared: frozenset[str], last: bool = False) -> Iterator[list[dict[str, str]]]:
    """Around a skill body: the degradations its ``optional`` blocks note, for dependencies it declared.
    ``last``: the call has no retry left for a transient failure."""
    notes: list[dict[str, str]] = []
    note_token, declared_token, last_token = _notes.set(notes), _declared.set(declared), _last.set(last)
    try:
        yield notes
    finally:
        _notes.reset(note_token)
        _declared.reset(declared_token)
        _last.reset(last_token)


def last_attempt() -> bool:
    """Whether the running skill call is on its last attempt (False outside a skill)."""
    return _last.get()


@contextmanager
def optional(dependency: str) -> Iterator[None]:
    """Run the block; if ``dependency`` turns out to be down, note it and carry on after the block."""
    try:
        yield
    except Unavailable as down:
        notes = _notes.get()
        if down.dependency != dependency or notes is None or dependency not in _declared.get():
            raise
        logger.warning("degraded: %s", down)
        notes.append({"dependency": dependency, "reason": down.reason})


def mark(result: Any, notes: list[dict[str, str]]) -> Any:
    """The skill's result with its degradations attached (a non-dict result is wrapped as ``value``)."""
    if not notes:
        return result
    return {**(result if isinstance(result, dict) else {"value": result}), "degraded": notes}
