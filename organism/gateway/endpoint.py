"""An endpoint's shared row: read once per call, changed by conditional updates that re-check what they assume.

The breaker, the 429 pause, the rate window and the hold-time estimate live in one row, so the gates a call must
pass cost one ``SELECT``, and everything a finished call changes costs one ``UPDATE``: :mod:`breaker`,
:mod:`ratelimit` and :meth:`Endpoints.latency_values` each contribute column values, which the client merges
into one :meth:`Endpoints.statement`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Update, case, update
from sqlalchemy.orm import Session

from organism.gateway.models import BreakerState, Endpoint, insert_ignoring_duplicates
from organism.store import session

LATENCY_WEIGHT = 0.2  # weight of the newest call in the hold-time estimate (an exponential moving average)


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
        row = s.get(Endpoint, self.endpoint)
        if row is None:
            insert_ignoring_duplicates(s, Endpoint, endpoint=self.endpoint, breaker=BreakerState.CLOSED.value,
                                       failures=0, window_start=0.0, window_requests=0, window_tokens=0)
            row = s.get(Endpoint, self.endpoint)
            assert row is not None
        return EndpointState(BreakerState(row.breaker), row.failures, row.open_until, row.probe_until,
                             row.paused_until, row.window_start, row.window_requests, row.window_tokens,
                             row.latency_s)

    def statement(self, *conditions: ColumnElement[bool], **values: Any) -> Update:
        """An ``UPDATE`` of the row with ``values``, applied only if ``conditions`` hold at that moment."""
        return update(Endpoint).where(Endpoint.endpoint == self.endpoint, *conditions).values(**values)

    def update(self, *conditions: ColumnElement[bool], **values: Any) -> bool:
        """Run :meth:`statement` in its own transaction; True if the conditions held."""
        with session(self.url) as s:
            return bool(s.execute(self.statement(*conditions, **values)).rowcount)  # type: ignore[attr-defined]

    @staticmethod
    def latency_values(latency_s: float) -> dict[str, Any]:
        """Fold how long one call held its permit into the estimate that waiters plan with."""
        estimate = Endpoint.latency_s * (1 - LATENCY_WEIGHT) + latency_s * LATENCY_WEIGHT
        return {"latency_s": case((Endpoint.latency_s.is_(None), latency_s), else_=estimate)}
