"""The gateway's shared state across every endpoint: breaker, 429 pause, permits held, waiters, last error.
Read-only.

The gateway (``organism.gateway``) reads the endpoints of one route at a time and has no call that lists them
all, so this module reads its tables (``gateway_endpoints``, ``gateway_permits``, ``gateway_waiters``, and the
ledger for the last answer) through the gateway's own models, with the same liveness rules: a permit is held while
its lease has not expired, a waiter is waiting while its own expiry has not passed. Each endpoint the settings
declare is shown with its routes and model, called yet or not; one the store knows but the settings no longer
name is shown too.

The stored breaker state is not the whole truth: an ``open`` circuit whose cooldown is over lets the next call
probe, a ``half_open`` one whose probe's claim expired lost its probe, and a ``closed`` one may be counting
failures. :attr:`EndpointView.state` says which, and when the state began, from the configured cooldown and probe
time (``opened_at`` is ``open_until`` less the cooldown; the store keeps no separate time).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import case, func, select

from organism.gateway.breaker import probe_ttl_s
from organism.gateway.models import BreakerState, Endpoint, LedgerEntry, Permit, Waiter
from organism.gateway.settings import EndpointSettings, GatewaySettings, endpoint_name
from organism.store import session


@dataclass(frozen=True)
class EndpointView:
    """One endpoint now (times in epoch seconds). ``longest_wait_s`` is how long its oldest live waiter has been
    waiting; ``threshold`` the consecutive failures that open its circuit; ``since`` when the circuit's state
    began (open: when it opened; half-open: when its probe went out; closed: unknown, None); ``last_answer`` the
    time of the last answered call the ledger holds; ``routes``, ``model`` and ``base_url`` what the settings
    declare (empty, None: not declared any more); ``paused_for_s`` what is left of a 429's pause."""

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
    routes: tuple[str, ...] = ()
    model: str | None = None
    base_url: str | None = None
    paused_for_s: float | None = None
    last_error: str | None = None
    last_error_at: float | None = None

    @property
    def last_error_time(self) -> datetime | None:
        return datetime.fromtimestamp(self.last_error_at, UTC) if self.last_error_at is not None else None

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
    """Every endpoint the settings declare or the gateway has seen, declared ones first in their routes' order
    (``now`` in epoch seconds, like the gateway's columns), with the breaker settings of ``config``."""
    declared: dict[str, tuple[list[str], EndpointSettings]] = {}
    for alias, route in config.all_routes.items():
        for endpoint in route.endpoints:
            declared.setdefault(endpoint.key, ([], endpoint))[0].append(alias)
    live = Permit.holder.is_not(None) & (Permit.expires_at >= now)
    with session(url) as s:
        permits = {name: (total, int(held or 0)) for name, total, held in s.execute(
            select(Permit.endpoint, func.count(), func.sum(case((live, 1), else_=0)))
            .group_by(Permit.endpoint))}
        waiters = {name: (count, oldest) for name, count, oldest in s.execute(
            select(Waiter.endpoint, func.count(), func.min(Waiter.since))
            .where(Waiter.expires_at >= now).group_by(Waiter.endpoint))}
        answered = {name: at for name, at in s.execute(
            select(LedgerEntry.endpoint, func.max(LedgerEntry.created_at)).where(LedgerEntry.endpoint.is_not(None))
            .group_by(LedgerEntry.endpoint))}
        rows = {row.endpoint: row for row in s.scalars(select(Endpoint).order_by(Endpoint.endpoint))}
    views = []
    for name in [*declared, *(name for name in rows if name not in declared)]:
        routes, settings = declared.get(name, ([], None))
        limit = (settings.max_concurrency or config.max_concurrency) if settings is not None else 0
        total, held = permits.get(name, (limit, 0))
        count, oldest = waiters.get(name, (0, None))
        row = rows.get(name)
        views.append(EndpointView(
            name, row.breaker if row else BreakerState.CLOSED.value, row.failures if row else 0,
            config.breaker_failures, _ahead(row.open_until, now) if row else None,
            _ahead(row.probe_until, now) if row else None, _since(row, config) if row else None, answered.get(name),
            total, held, count, now - oldest if oldest is not None else 0.0, tuple(routes),
            settings.model if settings else None, endpoint_name(settings.base_url) if settings else None,
            _ahead(row.paused_until, now) if row else None, row.last_error if row else None,
            row.last_error_at if row else None))
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
