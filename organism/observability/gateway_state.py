"""The gateway's shared state across every endpoint: breaker, permits held, waiters. Read-only.

The gateway (``organism.gateway``) reads one endpoint at a time and has no call that lists them all, so this
module reads its tables (``gateway_endpoints``, ``gateway_permits``, ``gateway_waiters``, and the ledger for the
last answer) through the gateway's own models, with the same liveness rules: a permit is held while its lease has
not expired, a waiter is waiting while its own expiry has not passed.

The stored breaker state is not the whole truth: an ``open`` circuit whose cooldown is over lets the next call
probe, a ``half_open`` one whose probe's claim expired lost its probe, and a ``closed`` one may be counting
failures. :attr:`EndpointView.state` says which, and when the state began, from the configured cooldown and probe
time (``opened_at`` is ``open_until`` less the cooldown; the store keeps no separate time).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import case, func, select

from organism.gateway.client import probe_ttl_s
from organism.gateway.models import BreakerState, Endpoint, LedgerEntry, Permit, Waiter
from organism.gateway.settings import GatewaySettings
from organism.store import session


@dataclass(frozen=True)
class EndpointView:
    """One endpoint now (times in epoch seconds). ``longest_wait_s`` is how long its oldest live waiter has been
    waiting; ``threshold`` the consecutive failures that open its circuit; ``since`` when the circuit's state
    began (open: when it opened; half-open: when its probe went out; closed: unknown, None); ``last_answer`` the
    time of the last answered call the ledger holds."""

    endpoint: str
    breaker: str
    failures: int
    threshold: int
    open_for_s: float | None
    probe_for_s: float | None
    since: float | None
    last_answer: datetime | None
    permits: int
    held: int
    waiters: int
    longest_wait_s: float

    @property
    def in_use(self) -> float:
        """The share of permits held, 0..1."""
        return self.held / self.permits if self.permits else 0.0

    @property
    def state(self) -> str:
        """The circuit as a caller meets it now, in words."""
        if self.breaker == BreakerState.OPEN:
            return "open" if self.open_for_s else "open, cooldown over: the next call probes"
        if self.breaker == BreakerState.HALF_OPEN:
            return "half-open: a probe is out" if self.probe_for_s else "half-open, probe lost: the next call probes"
        return f"closed, failing ({self.failures} in a row)" if self.failures else "closed"

    @property
    def tone(self) -> str:
        """The state's badge: ``closed`` (healthy), ``half_open`` (failing or probing) or ``open``."""
        if self.breaker == BreakerState.CLOSED:
            return BreakerState.HALF_OPEN.value if self.failures else BreakerState.CLOSED.value
        return self.breaker

    @property
    def since_time(self) -> datetime | None:
        return datetime.fromtimestamp(self.since, UTC) if self.since is not None else None


def endpoint_views(url: str, config: GatewaySettings, now: float) -> list[EndpointView]:
    """Every endpoint the gateway has seen, by name (``now`` in epoch seconds, like the gateway's columns), with
    the breaker settings of ``config``."""
    live = Permit.holder.is_not(None) & (Permit.expires_at >= now)
    with session(url) as s:
        permits = {name: (total, int(held or 0)) for name, total, held in s.execute(
            select(Permit.endpoint, func.count(), func.sum(case((live, 1), else_=0)))
            .group_by(Permit.endpoint))}
        waiters = {name: (count, oldest) for name, count, oldest in s.execute(
            select(Waiter.endpoint, func.count(), func.min(Waiter.since))
            .where(Waiter.expires_at >= now).group_by(Waiter.endpoint))}
        answered = {name: at for name, at in s.execute(
            select(LedgerEntry.endpoint, func.max(LedgerEntry.created_at)).group_by(LedgerEntry.endpoint))}
        rows = list(s.scalars(select(Endpoint).order_by(Endpoint.endpoint)))
    views = []
    for row in rows:
        total, held = permits.get(row.endpoint, (0, 0))
        count, oldest = waiters.get(row.endpoint, (0, None))
        views.append(EndpointView(
            row.endpoint, row.breaker, row.failures, config.breaker_failures, _ahead(row.open_until, now),
            _ahead(row.probe_until, now), _since(row, config), answered.get(row.endpoint), total, held, count,
            now - oldest if oldest is not None else 0.0))
    return views


def _ahead(until: float | None, now: float) -> float | None:
    """Seconds from ``now`` to ``until``, if it is still ahead."""
    return until - now if until is not None and until > now else None


def _since(row: Endpoint, config: GatewaySettings) -> float | None:
    if row.breaker == BreakerState.OPEN and row.open_until is not None:
        return row.open_until - config.breaker_cooldown_s
    if row.breaker == BreakerState.HALF_OPEN and row.probe_until is not None:
        return row.probe_until - probe_ttl_s(config)
    return None
