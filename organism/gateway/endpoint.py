"""An endpoint's shared row: read once per call, changed by conditional updates that re-check what they assume.

The breaker, the 429 pause, the rate window and the hold-time estimate live in one row, so the gates a call must
pass cost one ``SELECT``, and everything a finished call changes costs one ``UPDATE``: :mod:`breaker`,
:mod:`ratelimit` and :meth:`Endpoints.latency_values` each contribute column values, which the client merges
into one :meth:`Endpoints.statement`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Update, case, select, update
from sqlalchemy.orm import Session

from organism.gateway.models import BreakerState, Endpoint, insert_ignoring_duplicates
from organism.store import session

LATENCY_WEIGHT = 0.2  # weight of the newest call in the hold-time estimate (an exponential moving average)
ERROR_CHARS = 500  # of an endpoint's last error


@dataclass(frozen=True)
class EndpointState:
    """A snapshot of an endpoint's row; times are epoch seconds."""

    breaker: BreakerState
    failures: int
    open_until: float | None
    probe_until: float | None
    paused_until: float | None
    window_start: float
    window_requests: int
    window_tokens: int
    latency_s: float | None


class Endpoints:
    """Reads and updates the shared row of one endpoint in the store at ``url``."""

    def __init__(self, url: str, endpoint: str) -> None:
        self.url = url
        self.endpoint = endpoint

    def read(self, s: Session) -> EndpointState:
        """The endpoint's current state; its row is made on first use (or anew, if deleted to reset it)."""
        return read_states(s, [self.endpoint])[self.endpoint]

    def statement(self, *conditions: ColumnElement[bool], **values: Any) -> Update:
        """An ``UPDATE`` of the row with ``values``, applied only if ``conditions`` hold at that moment."""
        return update(Endpoint).where(Endpoint.endpoint == self.endpoint, *conditions).values(**values)

    def update(self, *conditions: ColumnElement[bool], **values: Any) -> bool:
        """Run :meth:`statement` in its own transaction; True if the conditions held."""
        with session(self.url) as s:
            return bool(s.execute(self.statement(*conditions, **values)).rowcount)  # type: ignore[attr-defined]

    @staticmethod
    def error_values(error: Exception, now: float) -> dict[str, Any]:
        """Keep what went wrong last, for the console."""
        return {"last_error": str(error)[:ERROR_CHARS], "last_error_at": now}

    @staticmethod
    def latency_values(latency_s: float) -> dict[str, Any]:
        """Fold how long one call held its permit into the estimate that waiters plan with."""
        estimate = Endpoint.latency_s * (1 - LATENCY_WEIGHT) + latency_s * LATENCY_WEIGHT
        return {"latency_s": case((Endpoint.latency_s.is_(None), latency_s), else_=estimate)}


def read_states(s: Session, names: list[str]) -> dict[str, EndpointState]:
    """The current state of each endpoint named, in one ``SELECT``; a missing row is made (on first use, or anew
    if deleted to reset the endpoint)."""
    rows = {row.endpoint: row for row in s.scalars(select(Endpoint).where(Endpoint.endpoint.in_(names)))}
    missing = [name for name in names if name not in rows]
    for name in missing:
        insert_ignoring_duplicates(s, Endpoint, endpoint=name, breaker=BreakerState.CLOSED.value, failures=0,
                                   window_start=0.0, window_requests=0, window_tokens=0)
    if missing:
        rows.update((row.endpoint, row) for row in s.scalars(select(Endpoint).where(Endpoint.endpoint.in_(missing))))
    return {name: EndpointState(BreakerState(row.breaker), row.failures, row.open_until, row.probe_until,
                                row.paused_until, row.window_start, row.window_requests, row.window_tokens,
                                row.latency_s)
            for name, row in rows.items()}
