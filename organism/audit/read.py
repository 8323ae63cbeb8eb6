"""Reading the trail, newest first, filtered by who, action and time, a page at a time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

from sqlalchemy import Select, func, select

from organism.store.db import session
from organism.store.models import AuditEntry


@dataclass(frozen=True)
class Filters:
    """Which entries to show; ``since`` is a time with its zone."""

    who: str | None = None
    action: str | None = None
    since: datetime | None = None

    def apply(self, query: Select[Any]) -> Select[Any]:
        if self.who:
            query = query.where(AuditEntry.who == self.who)
        if self.action:
            query = query.where(AuditEntry.action == self.action)
        if self.since is not None:  # SQLite keeps UTC without a zone; PostgreSQL compares zoned times
            query = query.where(AuditEntry.at >= self.since.astimezone(UTC))
        return query


def entries(url: str, filters: Filters, limit: int, offset: int = 0) -> list[AuditEntry]:
    """Up to ``limit`` entries that match, newest first, after skipping ``offset``."""
    with session(url) as s:
        query = filters.apply(select(AuditEntry)).order_by(AuditEntry.id.desc()).limit(limit).offset(offset)
        return list(s.scalars(query))


def count(url: str, filters: Filters) -> int:
    with session(url) as s:
        return s.scalar(filters.apply(select(func.count()).select_from(AuditEntry))) or 0


def actions(url: str) -> list[str]:
    """The actions on record, for a filter's choices."""
    with session(url) as s:
        return sorted(s.scalars(select(AuditEntry.action).distinct()))


def at_in(at: datetime, zone: tzinfo) -> datetime:
    """An entry's time in ``zone`` (SQLite gives it back without its zone, UTC)."""
    return (at.replace(tzinfo=UTC) if at.tzinfo is None else at).astimezone(zone)


def parse_since(given: str, zone: tzinfo) -> datetime:
    """``2026-12-05``, ``2026-12-05T06:00`` (in ``zone``) or a time with its offset; ValueError says what is wrong."""
    try:
        moment = datetime.fromisoformat(given.strip())
    except ValueError:
        raise ValueError(f"{given!r} is not a time like 2026-12-05 or 2026-12-05T06:00") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)
