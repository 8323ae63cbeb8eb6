"""A call's time to live: set per skill or per call, enforced by the worker that takes the call.

    @skill(organ="perception", ttl_s=600)                # every call of the skill, unless the call says otherwise
    pain_scanner.apply_async(args, ttl_s=30)             # this call; or Celery's own expires= (seconds or a time)

The time to live becomes Celery's ``expires`` (an absolute time in the message). A worker that takes a message
past that time does not run it: Celery stores its result as REVOKED, and Organism rejects the message (to the
dead-letter exchange on RabbitMQ) and records one dead letter with reason ``expired``, saying when it expired and
how late the worker was (organism.failures.bad_messages). A retry keeps its call's expiry.

Every broker holds an expired message until a worker reaches it. Celery would also give the message RabbitMQ's
per-message TTL, and RabbitMQ would then discard it at the head of the queue, or move it to the dead-letter
exchange, without any worker seeing it: no dead letter would be recorded and no result stored. So the published
message carries ``expires`` only (:func:`_wait_for_a_worker`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from celery import signals

from organism.errors import CallOptionError

TTL_OPTION = "ttl_s"


def ttl(value: object) -> float:
    """``value`` as a time to live in seconds.

    Raises:
        CallOptionError: ``value`` is not a positive, finite number.
    """
    if isinstance(value, bool) or not isinstance(value, int | float) or not (0 < value < math.inf):
        raise CallOptionError(f"ttl_s must be a positive number of seconds, got {value!r}")
    return float(value)


def with_ttl(options: Mapping[str, Any], default_ttl_s: float | None) -> dict[str, Any]:
    """Celery options with the call's time to live as ``expires``: the call's ``ttl_s`` (seconds from now), else
    its own ``expires`` (seconds, a datetime or an ISO 8601 time), else ``default_ttl_s`` (the skill's); none of
    them: the call does not expire.

    Raises:
        CallOptionError: the call gives both ``ttl_s`` and ``expires``, or a ``ttl_s`` that is no positive number.
    """
    resolved = dict(options)
    given = resolved.pop(TTL_OPTION, None)
    if given is not None:
        if resolved.get("expires") is not None:
            raise CallOptionError("give ttl_s or expires, not both")
        resolved["expires"] = ttl(given)
    elif resolved.get("expires") is None and default_ttl_s is not None:
        resolved["expires"] = default_ttl_s
    return resolved


def expired_message(name: str, expires: datetime | str | None, taken_at: datetime) -> str:
    """What an expired call's dead letter says: ``<skill> expired at 2026-12-06T01:02:03.000Z, 4.2 s before a worker
    took it``."""
    try:
        at = expires if isinstance(expires, datetime) else datetime.fromisoformat(str(expires))
    except ValueError:
        return f"{name} expired at {expires!r} before a worker took it"
    at = at if at.tzinfo else at.replace(tzinfo=UTC)  # Celery sends aware times; a naive one is read as UTC
    late_s = (taken_at - at).total_seconds()
    shown = at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    late = f"{late_s:.1f}" if abs(late_s) >= 1 else f"{late_s:.3f}"
    return f"{name} expired at {shown}, {late} s before a worker took it"


class RejectsExpired:
    """Mixin for a skill's worker-side Celery ``Request``: an expired message is rejected, where Celery would
    acknowledge it.

    Celery discards an expired message in ``_announce_revoked``, which stores REVOKED, acknowledges the message and
    sends ``task_revoked`` (expired=True). Acknowledged, a message is simply gone; rejected first (Celery's
    acknowledgement is then a no-op), it moves to the dead-letter exchange on RabbitMQ like every other message
    Organism gives up on. Celery checks expiry on receipt, and again when the message is handed to the pool (a
    retry held for its countdown is checked then); both end here.
    """

    def _announce_revoked(self, reason: str, terminated: bool, signum: Any, expired: bool) -> None:
        if expired:
            self.reject(requeue=False)  # type: ignore[attr-defined]
        super()._announce_revoked(reason, terminated, signum, expired)  # type: ignore[misc]


@signals.before_task_publish.connect
def _wait_for_a_worker(properties: dict[str, Any] | None = None, **_: Any) -> None:
    # Celery adds RabbitMQ's per-message TTL (``expiration``) to every message with ``expires`` (app/base.py,
    # send_task); see the module docstring for why it must go. The other transports ignore it.
    if properties is not None:
        properties.pop("expiration", None)
