"""Failure classes decide the action (DESIGN.md): the one place that maps an exception to what happens next."""

from __future__ import annotations

import enum

import requests

from organism.errors import Deferred, PermanentError, TransientError
from organism.failures.retry import parse_retry_after

RETRYABLE_STATUS = frozenset({408, 429}) | frozenset(range(500, 600))


class Action(enum.StrEnum):
    RETRY = "retry"  # spend an attempt, wait the backoff or Retry-After
    DEFER = "defer"  # wait as long as asked, spending no attempt
    DEAD = "dead"  # dead-letter now


def classify(exc: BaseException, transient: tuple[type[BaseException], ...] = (),
             permanent: tuple[type[BaseException], ...] = ()) -> tuple[Action, float | None]:
    """What to do about ``exc``, and how long the other side asked us to wait (if it said).

    A skill's own ``permanent`` and ``transient`` declarations come first; HTTP errors go by status (408, 429
    and 5xx retry, other 4xx are permanent). Everything else is retried, timeouts and connection errors
    included: a flaky library's surprise should not lose work, and a real bug still reaches the dead letters
    after the last retry, with its traceback.
    """
    if isinstance(exc, (*permanent, PermanentError)):
        return Action.DEAD, None
    if isinstance(exc, Deferred):
        return Action.DEFER, exc.wait_s
    if isinstance(exc, (*transient, TransientError)):
        return Action.RETRY, getattr(exc, "retry_after_s", None)
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        if exc.response.status_code in RETRYABLE_STATUS:
            return Action.RETRY, parse_retry_after(exc.response.headers.get("Retry-After"))
        return Action.DEAD, None
    return Action.RETRY, None
