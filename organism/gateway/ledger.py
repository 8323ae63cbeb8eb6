"""The token ledger: one row per model call, answered or refused by a policy, keyed so that no call is ever
counted twice.

A call's key is (task id, attempt, call number within the attempt). Inside a Celery task, the task id and
``request.retries`` name the attempt: a retry is a new attempt and counts again, because the provider billed it
again. A redelivered message (a worker killed mid-task) is the same attempt. Its calls find their rows and get
the recorded reply back instead of paying for it twice. Outside a task every call gets a fresh id. An answered
row names the route asked for and the endpoint and model that answered; a refused one, the route and the policy.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from celery import current_task
from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import Session

from organism import headers
from organism.gateway.models import LedgerEntry, LedgerStatus, insert_ignoring_duplicates
from organism.gateway.prices import Price
from organism.gateway.provider import ChatResult, Usage
from organism.store import session

SEQ_ATTRIBUTE = "organism_gateway_calls"  # kept on the Celery request: it lives exactly as long as the attempt
GROUPS = {"skill": LedgerEntry.skill, "model": LedgerEntry.model, "organ": LedgerEntry.organ,
          "run": LedgerEntry.run_id, "route": LedgerEntry.route, "endpoint": LedgerEntry.endpoint}
ANSWERED, REFUSED = LedgerStatus.ANSWERED.value, LedgerStatus.REFUSED.value


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
                                              LedgerEntry.attempt == call.attempt, LedgerEntry.seq == call.seq,
                                              LedgerEntry.status == ANSWERED)).scalar_one_or_none()
    if row is None:
        return None
    return ChatResult(row.reply, Usage(row.prompt_tokens, row.completion_tokens), row.model or "", row.latency_s,
                      replayed=True)


def record(s: Session, call: CallKey, endpoint: str, result: ChatResult, price: Price,
           route: str | None = None) -> bool:
    """Add the answered call's row (``endpoint``'s name, the ``route`` asked for) in the caller's transaction;
    False if this key was already recorded."""
    usage = result.usage
    return insert_ignoring_duplicates(
        s, LedgerEntry, task_id=call.task_id, attempt=call.attempt, seq=call.seq, status=ANSWERED, route=route,
        endpoint=endpoint, model=result.model, skill=call.skill, organ=call.organ, run_id=call.run_id,
        prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens,
        input_usd_per_mtok=price.input_usd_per_mtok, output_usd_per_mtok=price.output_usd_per_mtok,
        cost_usd=price.cost_usd(usage.prompt_tokens, usage.completion_tokens), latency_s=result.latency_s,
        created_at=datetime.now(UTC), reply=result.content)


def refuse(s: Session, call: CallKey, route: str, policy: str, reason: str) -> bool:
    """Add the row of a call ``policy`` refused (no endpoint, model or tokens; ``reason`` as its reply); False if
    this key was already recorded."""
    return insert_ignoring_duplicates(
        s, LedgerEntry, task_id=call.task_id, attempt=call.attempt, seq=call.seq, status=REFUSED, route=route,
        endpoint=None, model=None, policy=policy, skill=call.skill, organ=call.organ, run_id=call.run_id,
        prompt_tokens=0, completion_tokens=0, input_usd_per_mtok=0.0, output_usd_per_mtok=0.0, cost_usd=0.0,
        latency_s=0.0, created_at=datetime.now(UTC), reply=reason)


def day_start(day: date, zone: ZoneInfo) -> datetime:
    """Midnight at the start of ``day`` in ``zone``, in UTC (the ledger's clock)."""
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)


@dataclass(frozen=True)
class Total:
    """Ledger totals of one group (``key`` is None for calls with no value in the grouping column): answered
    calls, their tokens and cost, and the calls policies refused."""

    key: str | None
    calls: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    refused: int = 0


@dataclass(frozen=True)
class Refusal:
    """A call a policy refused."""

    at: datetime
    skill: str | None
    route: str | None
    policy: str | None
    reason: str
    run_id: str | None


def ledger_totals(url: str, since: datetime | None = None, by: str = "model", run_id: str | None = None) -> list[Total]:
    """Calls, tokens and cost since ``since`` (all time if None), grouped ``by`` skill, model, organ, run, route or
    endpoint.

    Raises:
        ValueError: ``by`` is not one of those.
    """
    column = GROUPS.get(by)
    if column is None:
        raise ValueError(f"cannot group the ledger by {by!r}; choose one of {', '.join(GROUPS)}")
    answered = LedgerEntry.status == ANSWERED
    query = select(column, func.count(case((answered, 1))), func.sum(LedgerEntry.prompt_tokens),
                   func.sum(LedgerEntry.completion_tokens), func.sum(LedgerEntry.cost_usd),
                   func.count(case((LedgerEntry.status == REFUSED, 1)))).group_by(column)
    query = query.where(*_within(since, run_id))
    with session(url) as s:
        rows: list[Any] = list(s.execute(query.order_by(func.sum(LedgerEntry.cost_usd).desc(), column)))
    return [Total(key, calls, int(prompt or 0), int(completion or 0), float(cost or 0.0), refused)
            for key, calls, prompt, completion, cost, refused in rows]


def refusals(url: str, since: datetime | None = None, limit: int = 50) -> list[Refusal]:
    """The newest calls policies refused since ``since``, at most ``limit``."""
    with session(url) as s:
        rows = s.scalars(select(LedgerEntry).where(LedgerEntry.status == REFUSED, *_within(since, None))
                         .order_by(LedgerEntry.created_at.desc(), LedgerEntry.id.desc()).limit(limit)).all()
        return [Refusal(row.created_at, row.skill, row.route, row.policy, row.reply, row.run_id) for row in rows]


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
