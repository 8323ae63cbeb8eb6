"""Long-term memory: past Daily Sync reports, searched by text.

It lives in the store's database unless ``ORGANISM_MEMORY_URL`` points elsewhere, and it is optional: when its
database cannot be reached, :func:`recall` raises :class:`~organism.errors.Unavailable` so that a skill that
declared ``optional=["memory"]`` finishes without it (organism.failures.degrade).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from organism.errors import Unavailable
from organism.store import session
from organism.store.models import Report, Run


@dataclass(frozen=True)
class Recollection:
    """A past run whose report mentions what was searched for."""

    key: str
    excerpt: str


def recall(url: str, text: str, exclude_run: str | None = None, limit: int = 3) -> list[Recollection]:
    """Past reports whose summary mentions ``text`` (case-insensitive), newest first.

    Raises:
        Unavailable: the memory's database cannot be reached.
    """
    stmt = (select(Run.key, Report.summary).join(Report, Report.run_id == Run.id)
            .where(Report.summary.ilike(f"%{text}%")).order_by(Report.created_at.desc()).limit(limit))
    if exclude_run:
        stmt = stmt.where(Run.id != exclude_run)
    try:
        with session(url) as s:
            rows = s.execute(stmt).all()
    except DBAPIError as error:
        reason = str(error.orig or error).strip().splitlines()[0] if str(error.orig or error).strip() else repr(error)
        raise Unavailable("memory", reason) from None
    return [Recollection(key, next((line for line in summary.splitlines() if text.lower() in line.lower()), ""))
            for key, summary in rows]
