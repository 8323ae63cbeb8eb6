"""What can go wrong in a skill, by kind. Code raises the kind; skill.py maps kind to action in one place.

| kind | action |
|---|---|
| :class:`TransientError` | retry with backoff (or after ``retry_after_s``), then dead-letter |
| :class:`Deferred` | retry after ``wait_s`` without spending an attempt (circuit open, provider paused, no permit) |
| :class:`PermanentError` | dead-letter at once |
| :class:`SkillTimeout` | retry, as transient; dead-letter at once where the skill declares it ``permanent`` |
"""

from __future__ import annotations

from typing import Any


class OrganismError(Exception):
    """Base of every error Organism raises on purpose."""


class SkillDefinitionError(OrganismError, TypeError):
    """An ``@skill`` declaration is wrong; raised when its module is imported."""


class CallOptionError(OrganismError, ValueError):
    """A call's options are wrong (an unknown priority level, a time to live that is no positive number); raised
    where the call is made, before anything is sent."""


class TransientError(OrganismError):
    """The world may be different next time: a timeout, a reset connection, HTTP 429 or 5xx.

    Args:
        retry_after_s: how long the other side asked us to wait (``Retry-After``), if it said.
    """

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (str(self), self.retry_after_s)


class Deferred(TransientError):
    """Not now, and not the call's fault: wait ``wait_s`` and try again without spending an attempt."""

    def __init__(self, message: str, wait_s: float) -> None:
        super().__init__(message, retry_after_s=wait_s)

    @property
    def wait_s(self) -> float:
        return self.retry_after_s or 0.0

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (str(self), self.wait_s)


class SkillTimeout(TransientError):
    """A skill ran past its time limit: the soft limit interrupted it, or the hard limit killed its process.

    The message says which limit, how long, and whose it is (the organ's, the skill's or the call's). Retried like
    any transient error; a skill that running longer cannot help declares ``@skill(..., permanent=(SkillTimeout,))``
    and is dead-lettered at once. Celery's own ``SoftTimeLimitExceeded`` reaches no skill's classification: a
    skill catches that one only to clean up, and what escapes is this.
    """


class PermanentError(OrganismError):
    """Retrying cannot help: the call is wrong, not the world."""


class InvalidArguments(PermanentError):
    """A skill was called with arguments its signature does not accept."""


class Unavailable(OrganismError):
    """An optional dependency (``memory``, ``model``) cannot be reached: degrade, do not fail.

    Args:
        dependency: the name a skill declares in ``@skill(optional=[...])``.
    """

    def __init__(self, dependency: str, reason: str) -> None:
        super().__init__(f"{dependency} unavailable: {reason}")
        self.dependency = dependency
        self.reason = reason

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.dependency, self.reason)
