"""Retry policy as data, and the one pure function that turns a failed attempt into a delay.

Precedence: the call site (the :data:`RETRY_HEADER` of a message), then the skill (``@skill(retry=...)``), then
settings. Celery's own autoretry cannot honour ``Retry-After`` and uses full jitter (a retry may fire at once),
so Organism computes the countdown itself and calls ``Task.retry(countdown=...)``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

RETRY_HEADER = "organism_retry"


@dataclass(frozen=True)
class RetryPolicy:
    """How a transient failure is retried.

    Attributes:
        max_retries: retries after the first attempt (3: attempts at 0, ~2, ~6, ~14 s).
        backoff_base_s: the first delay; each later one doubles it.
        backoff_max_s: no delay is longer than this.
        jitter: each delay is scaled by a random factor in [1 - jitter, 1 + jitter].
    """

    max_retries: int = 3
    backoff_base_s: float = 2.0
    backoff_max_s: float = 60.0
    jitter: float = 0.1

    def __post_init__(self) -> None:
        if self.max_retries < 0 or self.backoff_base_s < 0 or self.backoff_max_s < 0 or not 0 <= self.jitter < 1:
            raise ValueError(f"invalid retry policy {self}: counts and delays must be >= 0, jitter in [0, 1)")

    def overridden(self, overrides: dict[str, Any] | None) -> RetryPolicy:
        """This policy with the fields ``overrides`` names; unknown names are an error, not ignored."""
        if not overrides:
            return self
        unknown = set(overrides) - {f.name for f in fields(self)}
        if unknown:
            raise ValueError(f"unknown retry option(s) {', '.join(sorted(unknown))}")
        return replace(self, **overrides)

    def as_header(self) -> dict[str, dict[str, Any]]:
        """Message headers that make this the call site's policy: ``skill.apply_async(headers=p.as_header())``."""
        return {RETRY_HEADER: asdict(self)}


def backoff_s(policy: RetryPolicy, retries: int, rand: Callable[[], float] = random.random) -> float:
    """The delay before retry number ``retries + 1``: base · 2^retries, capped, with bounded jitter."""
    delay = min(policy.backoff_max_s, policy.backoff_base_s * 2**retries)
    return delay * (1 + policy.jitter * (2 * rand() - 1))


def retry_delay_s(policy: RetryPolicy, retries: int, retry_after_s: float | None, ceiling_s: float) -> float:
    """The countdown for the next retry: the server's ``Retry-After`` if it gave one, else the backoff.

    Capped at ``ceiling_s``, which stays below the broker's redelivery timeout: a countdown held past it would
    make the broker hand the message to a second worker.
    """
    delay = retry_after_s if retry_after_s is not None else backoff_s(policy, retries)
    return max(0.0, min(delay, ceiling_s))


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delay-seconds or an HTTP date; None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
