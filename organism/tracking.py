"""Run and node bookkeeping written from a skill's hooks.

A skill call belongs to a run when its message carries the :data:`RUN_HEADER`; its node row is keyed by the
task id. Bookkeeping never fails a skill: a store error is logged and the skill's own outcome stands.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from sqlalchemy import exists, select, update

from organism import deadletter
from organism.deadletter import Letter
from organism.store import session
from organism.store.models import Delivery, Node, NodeStatus, Run, RunStatus, utcnow

RUN_HEADER = "organism_run"
OPEN = (RunStatus.PENDING.value, RunStatus.RUNNING.value)
logger = logging.getLogger(__name__)


def run_of(request: Any) -> str | None:
    """The run id a Celery request belongs to, if any."""
    return getattr(request, RUN_HEADER, None)


@contextmanager
def _logged(action: str, task_id: str) -> Iterator[None]:
    try:
        yield
    except Exception:
        logger.exception("could not record %s of task %s; the skill's outcome is unaffected", action, task_id)


def node_started(url: str, task_id: str, run_id: str) -> None:
    """Mark the node running and count the attempt; the run is running from its first node on."""
    with _logged("start", task_id), session(url) as s:
        s.execute(update(Node).where(Node.task_id == task_id)
                  .values(status=NodeStatus.RUNNING.value, started_at=utcnow(), attempts=Node.attempts + 1))
        s.execute(update(Run).where(Run.id == run_id, Run.status == RunStatus.PENDING.value)
                  .values(status=RunStatus.RUNNING.value))


def node_succeeded(url: str, task_id: str, run_id: str, result: Any) -> None:
    """Store the node's result; when it was the run's last unfinished node, the run has succeeded.

    One transaction, so it sees its own node as finished. Two last nodes finishing at the same moment could each
    miss the other's commit; the watchdog then finds every node succeeded and marks the run succeeded.
    """
    degraded = result.get("degraded") if isinstance(result, dict) else None
    unfinished = exists().where(Node.run_id == run_id, Node.status != NodeStatus.SUCCEEDED.value)
    with _logged("success", task_id), session(url) as s:
        s.execute(update(Node).where(Node.task_id == task_id).values(
            status=NodeStatus.SUCCEEDED.value, finished_at=utcnow(), error=None, degraded=degraded,
            result=result if isinstance(result, dict) else {"value": result}))
        s.execute(update(Run).where(Run.id == run_id, Run.status.in_(OPEN), ~unfinished)
                  .values(status=RunStatus.SUCCEEDED.value, finished_at=utcnow()))


def gave_up(url: str, letter: Letter) -> None:
    """Write the dead letter and, for a run's node, fail the node and its run: one transaction."""
    with _logged("dead letter", letter.task_id), session(url) as s:
        node = s.scalar(select(Node.name).where(Node.task_id == letter.task_id)) if letter.run_id else None
        deadletter.record(s, replace(letter, node=node))
        if node is None:
            return
        error = f"{letter.error_type}: {letter.error_message}"
        s.execute(update(Node).where(Node.task_id == letter.task_id)
                  .values(status=NodeStatus.FAILED.value, finished_at=utcnow(), error=error))
        s.execute(update(Run).where(Run.id == letter.run_id, Run.status.in_(OPEN))
                  .values(status=RunStatus.FAILED.value, finished_at=utcnow(), error=f"{node}: {error}"))


def node_retrying(url: str, task_id: str, error: str) -> None:
    with _logged("retry", task_id), session(url) as s:
        s.execute(update(Node).where(Node.task_id == task_id).values(status=NodeStatus.RETRYING.value, error=error))


def count_delivery(url: str, task_id: str) -> int:
    """Count a redelivery of ``task_id`` and return its deliveries so far (the first redelivery makes 2)."""
    with session(url) as s:
        delivery = s.get(Delivery, task_id, with_for_update=True)
        if delivery is None:
            delivery = Delivery(task_id=task_id, count=1)
            s.add(delivery)
        delivery.count += 1
        delivery.updated_at = utcnow()
        return delivery.count


def deliveries(url: str, task_id: str) -> int:
    """How often ``task_id`` was delivered (1 unless it was redelivered)."""
    with _logged("delivery count", task_id), session(url) as s:
        return s.scalar(select(Delivery.count).where(Delivery.task_id == task_id)) or 1
    return 1  # the count could not be read (logged): the dead letter says first delivery
