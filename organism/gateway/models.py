"""The gateway's tables: endpoint state (breaker, pause, rate window, last error), permits, waiters, each route's
turn counter, and the token ledger.

Coordination times are epoch seconds (``float``) from the callers' clocks, so every comparison and sum is plain
arithmetic that reads the same on SQLite and PostgreSQL; hosts must keep their clocks in sync (NTP), well within
the smallest lease or pause. Every change to shared state is one conditional ``UPDATE`` (or ``INSERT ... ON
CONFLICT DO NOTHING``) whose ``WHERE`` re-checks the condition it relies on: that is atomic on SQLite (one
writer at a time) and on PostgreSQL (read committed re-evaluates the ``WHERE`` on the row it locks).
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.sql.dml import Insert

from organism.store.models import Base, utcnow


class BreakerState(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"  # one probe is out


class Endpoint(Base):
    """One model API endpoint as the whole cluster sees it: circuit breaker, 429 pause, rate window, latency, and
    its last error. Keyed by the endpoint's name (by default its base URL without credentials)."""

    __tablename__ = "gateway_endpoints"

    endpoint: Mapped[str] = mapped_column(String(300), primary_key=True)
    breaker: Mapped[str] = mapped_column(String(10), default=BreakerState.CLOSED.value)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    open_until: Mapped[float | None] = mapped_column(Float)
    probe: Mapped[str | None] = mapped_column(String(36))
    probe_until: Mapped[float | None] = mapped_column(Float)
    paused_until: Mapped[float | None] = mapped_column(Float)
    window_start: Mapped[float] = mapped_column(Float, default=0.0)
    window_requests: Mapped[int] = mapped_column(Integer, default=0)
    window_tokens: Mapped[int] = mapped_column(Integer, default=0)
    latency_s: Mapped[float | None] = mapped_column(Float)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[float | None] = mapped_column(Float)


class RouteTurn(Base):
    """How many calls a weighted route has placed, cluster-wide: call ``n`` takes turn ``n`` of its cycle."""

    __tablename__ = "gateway_routes"

    route: Mapped[str] = mapped_column(String(100), primary_key=True)
    turns: Mapped[int] = mapped_column(Integer, default=0)


class Permit(Base):
    """One of an endpoint's permits: free when it has no holder or the holder's lease has expired."""

    __tablename__ = "gateway_permits"

    endpoint: Mapped[str] = mapped_column(String(300), primary_key=True)
    slot: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    holder: Mapped[str | None] = mapped_column(String(36))
    acquired_at: Mapped[float | None] = mapped_column(Float)
    expires_at: Mapped[float | None] = mapped_column(Float)


class Waiter(Base):
    """A task that found no permit free, kept (with its own expiry) so waiters are served roughly in order."""

    __tablename__ = "gateway_waiters"
    __table_args__ = (Index("ix_gateway_waiters_endpoint_since", "endpoint", "since"),)

    endpoint: Mapped[str] = mapped_column(String(300), primary_key=True)
    waiter: Mapped[str] = mapped_column(String(64), primary_key=True)
    since: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float] = mapped_column(Float)


class LedgerStatus(enum.StrEnum):
    ANSWERED = "answered"
    REFUSED = "refused"  # by a policy, before any request left: no endpoint, no model, no tokens


class LedgerEntry(Base):
    """One model call: answered (tokens, cost at the prices in force, the route, endpoint and model that answered,
    and the reply, so a redelivery reuses it) or refused by a policy (``policy`` names it, ``reply`` holds why).

    Unique by (task id, attempt, call number within the attempt): a retry is a new attempt and counts, a
    redelivered attempt is the same one and never counts twice.
    """

    __tablename__ = "gateway_ledger"
    __table_args__ = (UniqueConstraint("task_id", "attempt", "seq", name="uq_gateway_ledger_call"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    task_id: Mapped[str] = mapped_column(String(64))
    attempt: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10), default=LedgerStatus.ANSWERED.value)
    route: Mapped[str | None] = mapped_column(String(100))
    endpoint: Mapped[str | None] = mapped_column(String(300))
    model: Mapped[str | None] = mapped_column(String(200), index=True)
    policy: Mapped[str | None] = mapped_column(String(200))
    skill: Mapped[str | None] = mapped_column(String(200), index=True)
    organ: Mapped[str | None] = mapped_column(String(50))
    run_id: Mapped[str | None] = mapped_column(String(36), index=True)
    prompt_tokens: Mapped[int] = mapped_column(Integer)
    completion_tokens: Mapped[int] = mapped_column(Integer)
    input_usd_per_mtok: Mapped[float] = mapped_column(Float)
    output_usd_per_mtok: Mapped[float] = mapped_column(Float)
    cost_usd: Mapped[float] = mapped_column(Float)
    latency_s: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    reply: Mapped[str] = mapped_column(Text)


def insert_ignoring_duplicates(session: Session, table: type[Base], **values: Any) -> bool:
    """``INSERT ... ON CONFLICT DO NOTHING`` (the same SQL on SQLite and PostgreSQL); True if a row went in."""
    dialect = session.get_bind().dialect.name
    module = {"postgresql": postgresql, "sqlite": sqlite}.get(dialect)
    if module is None:
        raise NotImplementedError(f"the gateway's store supports SQLite and PostgreSQL, not {dialect}")
    statement: Insert = module.insert(table).values(**values).on_conflict_do_nothing()
    return bool(session.execute(statement).rowcount)  # type: ignore[attr-defined]
