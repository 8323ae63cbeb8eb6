"""The token ledger: one row per answered model call, keyed so that no call is ever counted twice.

A call's key is (task id, attempt, call number within the attempt). Inside a Celery task, the task id and
``request.retries`` name the attempt: a retry is a new attempt and counts again, because the provider billed it
again. A redelivered message (a worker killed mid-task) is the same attempt. Its calls find their rows and get
the recorded reply back instead of paying for it twice. Outside a task every call gets a fresh id.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from celery import current_task
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from organism import headers
from organism.gateway.models import LedgerEntry, insert_ignoring_duplicates
from organism.gateway.prices import Price
from organism.gateway.provider import ChatResult, Usage
from organism.store import session

SEQ_ATTRIBUTE = "organism_gateway_calls"  # kept on the Celery request: it lives exactly as long as the attempt
GROUPS = {"skill": LedgerEntry.skill, "model": LedgerEntry.model, "organ": LedgerEntry.organ,
          "run": LedgerEntry.run_id}


@dataclass(frozen=True)
class CallKey:
    """Who is calling: the ledger key (task id, attempt, seq) and what the call is charged to."""

    task_id: str
    attempt: int
    seq: int
    skill: str | None
    organ: str | None
    run_id: str | None
    in_task: bool


def current_call(skill: str | None = None, run_id: str | None = None) -> CallKey:
    """The key of the call about to be made: from the running Celery task, or a fresh one outside tasks."""
    task = current_task._get_current_object() if current_task else None
    request = getattr(task, "request", None)
    if task is None or request is None or not request.id:
        return CallKey(uuid.uuid4().hex, 0, 0, skill, None, run_id, in_task=False)
    seq = getattr(request, SEQ_ATTRIBUTE, 0)
    setattr(request, SEQ_ATTRIBUTE, seq + 1)
    info = getattr(task, "skill", None)
    return CallKey(request.id, int(request.retries or 0), seq, skill or task.name, getattr(info, "organ", None),
                   run_id or headers.run_of(request), in_task=True)


def replay(s: Session, call: CallKey) -> ChatResult | None:
    """The recorded answer of this very call (a redelivered attempt), if it was answered before."""
    if not call.in_task:
        return None
    row = s.execute(select(LedgerEntry).where(LedgerEntry.task_id == call.task_id,
                                              LedgerEntry.attempt == call.attempt,
                                              LedgerEntry.seq == call.seq)).scalar_one_or_none()
    if row is None:
        return None
    return ChatResult(row.reply, Usage(row.prompt_tokens, row.completion_tokens), row.model, row.latency_s,
                      replayed=True)

def record(s: Session, call: CallKey, endpoint: str, result: ChatResult, price: Price) -> bool:
    """Add the call's row in the caller's transaction; False if this key was already recorded."""
    usage = result.usage
    return insert_ignoring_duplicates(
        s, LedgerEntry, task_id=call.task_id, attempt=call.attempt, seq=call.seq, endpoint=endpoint,
        model=result.model, skill=call.skill, organ=call.organ, run_id=call.run_id,
        prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens,
        input_usd_per_mtok=price.input_usd_per_mtok, output_usd_per_mtok=price.output_usd_per_mtok,
        cost_usd=price.cost_usd(usage.prompt_tokens, usage.completion_tokens), latency_s=result.latency_s,
        created_at=datetime.now(UTC), reply=result.content)


def day_start(day: date, zone: ZoneInfo) -> datetime:
    """Midnight at the start of ``day`` in ``zone``, in UTC (the ledger's clock)."""
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)


@dataclass(frozen=True)
class Total:
    """Ledger totals of one group (``key`` is None for calls with no value in the grouping column)."""

    key: str | None
    calls: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float


def ledger_totals(url: str, since: datetime | None = None, by: str = "model", run_id: str | None = None) -> list[Total]:
    """Calls, tokens and cost since ``since`` (all time if None), grouped ``by`` skill, model, organ or run.

    Raises:
        ValueError: ``by`` is not one of those.
    """
    column = GROUPS.get(by)
    if column is None:
        raise ValueError(f"cannot group the ledger by {by!r}; choose one of {', '.join(GROUPS)}")
    query = select(column, func.count(), func.sum(LedgerEntry.prompt_tokens),
                   func.sum(LedgerEntry.completion_tokens), func.sum(LedgerEntry.cost_usd)).group_by(column)
    query = query.where(*_within(since, run_id))
    with session(url) as s:
        rows: list[Any] = list(s.execute(query.order_by(func.sum(LedgerEntry.cost_usd).desc(), column)))
    return [Total(key, calls, int(prompt or 0), int(completion or 0), float(cost or 0.0))
            for key, calls, prompt, completion, cost in rows]


def spent_usd(s: Session, since: datetime | None = None, run_id: str | None = None) -> float:
    """Total cost of the calls since ``since`` and/or of one run."""
    return float(s.scalar(select(func.coalesce(func.sum(LedgerEntry.cost_usd), 0.0))
                          .where(*_within(since, run_id))) or 0.0)


def _within(since: datetime | None, run_id: str | None) -> list[ColumnElement[bool]]:
    conditions = []
    if since is not None:
        conditions.append(LedgerEntry.created_at >= since.astimezone(UTC))
    if run_id is not None:
        conditions.append(LedgerEntry.run_id == run_id)
    return conditions
