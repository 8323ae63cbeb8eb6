"""The gateway's shared state across every endpoint: breaker, permits held, waiters. Read-only.

The gateway (``organism.gateway``) reads one endpoint at a time and has no call that lists them all, so this
module reads its tables (``gateway_endpoints``, ``gateway_permits``, ``gateway_waiters``) through the
gateway's own models, with the same liveness rules: a permit is held while its lease has not expired, a waiter
is waiting while its own expiry has not passed.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, func, select

from organism.gateway.models import Endpoint, Permit, Waiter
from organism.store import session


@dataclass(frozen=True)
class EndpointView:
    """One endpoint now. ``longest_wait_s`` is how long its oldest live waiter has been waiting."""

    endpoint: str
    breaker: str
    failures: int
    open_for_s: float | None
    permits: int
    held: int
    waiters: int
    longest_wait_s: float

    @property
    def in_use(self) -> float:
        """The share of permits held, 0..1."""
        return self.held / self.permits if self.permits else 0.0


def endpoint_views(url: str, now: float) -> list[EndpointView]:
    """Every endpoint the gateway has seen, by name (``now`` in epoch seconds, like the gateway's columns)."""
    live = Permit.holder.is_not(None) & (Permit.expires_at >= now)
    with session(url) as s:
        permits = {name: (total, int(held or 0)) for name, total, held in s.execute(
            select(Permit.endpoint, func.count(), func.sum(case((live, 1), else_=0)))
            .group_by(Permit.endpoint))}
        waiters = {name: (count, oldest) for name, count, oldest in s.execute(
            select(Waiter.endpoint, func.count(), func.min(Waiter.since))
            .where(Waiter.expires_at >= now).group_by(Waiter.endpoint))}
        rows = list(s.scalars(select(Endpoint).order_by(Endpoint.endpoint)))
    views = []
    for row in rows:
        total, held = permits.get(row.endpoint, (0, 0))
        count, oldest = waiters.get(row.endpoint, (0, None))
        open_for = row.open_until - now if row.open_until is not None and row.open_until > now else None
        views.append(EndpointView(row.endpoint, row.breaker, row.failures, open_for, total, held, count,
                                  now - oldest if oldest is not None else 0.0))
    return views
