"""The reports runs leave: what a workflow's last step keeps, and what a later workflow reads of earlier runs.

This is the store as skills see it; they reach it through these functions only, never through a run's rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from organism.settings import get_settings
from organism.store import session
from organism.store.models import Report, Run, utcnow


def keep(run_id: str, summary: str, body: dict[str, Any]) -> None:
    """Keep a run's report (replacing an earlier one of the same run, so a redelivered store step is harmless)."""
    with session(get_settings().database) as s:
        s.merge(Report(run_id=run_id, summary=summary, body=body, created_at=utcnow()))


@dataclass(frozen=True)
class Kept:
    key: str
    summary: str
    body: dict[str, Any]
    created_at: datetime


def by_keys(keys: Iterable[str]) -> dict[str, Kept]:
    """The reports of the runs with these keys, by key (a run without a report is left out)."""
    wanted = list(keys)
    with session(get_settings().database) as s:
        rows = s.execute(select(Run.key, Report.summary, Report.body, Report.created_at)
                         .join(Report, Report.run_id == Run.id).where(Run.key.in_(wanted))).all()
    return {row.key: Kept(row.key, row.summary, row.body, row.created_at) for row in rows}
