"""Run and node bookkeeping written from a skill's hooks.

A skill call belongs to a run when its message carries the :data:`RUN_HEADER` (and :data:`NODE_HEADER`, its
node's name); its node row is keyed by the task id. Bookkeeping never fails a skill: a store error is logged
and the skill's own outcome stands.

The functions here write synchronously. A worker writes a node's start and success through
:mod:`organism.workflows.node_writer`, off the task's critical path.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from typing import Any

from celery import shared_task
from sqlalchemy import bindparam, delete, exists, func, select, update
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from organism.failures import dead_letters
from organism.failures.classify import Action
from organism.failures.dead_letters import Letter
from organism.settings import get_settings
from organism.store import session
from organism.store.db import engine_for
from organism.store.models import Attempt, Base, Delivery, Node, NodeStatus, Run, RunStatus, utcnow

RUN_HEADER = "organism_run"
NODE_HEADER = "organism_node"
OPEN = (RunStatus.PENDING.value, RunStatus.RUNNING.value)
logger = logging.getLogger(__name__)


@shared_task(name="organism.run_failed", ignore_result=True)
def run_failed(request: Any, exc: BaseException, traceback: Any, run_id: str, generation: int = 0) -> None:
    """Errback: fail the run a failed node belongs to, unless its hooks already did.

    Celery calls an errback of this arity in the worker that saw the failure, with the failed request. The
    generation check is part of the UPDATE, so an errback of a canvas that a resume replaced changes nothing.
    """
    logger.info("errback: run %s, task %s failed: %r", run_id, request.id, exc)
    with session(get_settings().database) as s:
        name = s.scalar(select(Node.name).where(Node.run_id == run_id, Node.task_id == request.id))
        s.execute(update(Run).where(Run.id == run_id, Run.generation == generation, Run.status.in_(OPEN)).values(
            status=RunStatus.FAILED.value, finished_at=utcnow(),
            error=f"{name or 'task ' + request.id}: {type(exc).__name__}: {exc}"))


def run_of(request: Any) -> str | None:
    """The run id a Celery request belongs to, if any (a run header that is not text names no run)."""
    return _run_id(getattr(request, RUN_HEADER, None))


def _run_id(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


@contextmanager
def _logged(action: str, task_id: str) -> Iterator[None]:
    try:
        yield
    except Exception:
        logger.exception("could not record %s of task %s; the skill's outcome is unaffected", action, task_id)


# Node start and success run for every node of every run: their statements are built once and run through
# Core, since the ORM's per-statement work was most of their CPU time, and the writer thread shares the GIL with
# the worker's next task.
_nodes, _runs = Base.metadata.tables[Node.__tablename__], Base.metadata.tables[Run.__tablename__]
_NODE_RUNNING = update(_nodes).where(_nodes.c.task_id == bindparam("node")).values(
    status=NodeStatus.RUNNING.value, started_at=bindparam("at"), attempts=_nodes.c.attempts + 1)
_RUN_RUNNING = update(_runs).where(_runs.c.id == bindparam("run"), _runs.c.status == RunStatus.PENDING.value).values(
    status=RunStatus.RUNNING.value)
_LOCK_RUN = select(_runs.c.id).where(_runs.c.id == bindparam("run")).with_for_update()
_NODE_SUCCEEDED = update(_nodes).where(_nodes.c.task_id == bindparam("node")).values(
    status=bindparam("b_status"), finished_at=bindparam("b_finished_at"), error=bindparam("b_error"),
    degraded=bindparam("b_degraded"), result=bindparam("b_result"))
_RUN_SUCCEEDED = update(_runs).where(
    _runs.c.id == bindparam("run"), _runs.c.status.in_(OPEN),
    ~exists().where(_nodes.c.run_id == bindparam("run"), _nodes.c.status != NodeStatus.SUCCEEDED.value),
).values(status=RunStatus.SUCCEEDED.value, finished_at=bindparam("at"))


def node_started(url: str, task_id: str, run_id: str) -> None:
    """Mark the node running and count the attempt; the run is running from its first node on."""
    with _logged("start", task_id), engine_for(url).begin() as c:
        c.execute(_RUN_RUNNING, {"run": run_id})  # the run's row before the node's, as every writer of both
        c.execute(_NODE_RUNNING, {"node": task_id, "at": utcnow()})


def node_succeeded(url: str, task_id: str, run_id: str, result: Any, started_at: datetime | None = None) -> None:
    """Store the node's result; when it was the run's last unfinished node, the run has succeeded.

    With ``started_at``, the node's start is written in the same transaction (:func:`node_started` was not).
    The run's row is locked first, so of two nodes finishing at once (in different processes, whose writes
    arrive in any order) the second sees the first's commit, and exactly one of them finds nothing unfinished.
    """
    values = {f"b_{column}": value for column, value in success(result).items()}
    with _logged("success", task_id), engine_for(url).begin() as c:
        c.execute(_LOCK_RUN, {"run": run_id})
        if started_at is not None:
            c.execute(_NODE_RUNNING, {"node": task_id, "at": started_at})
            c.execute(_RUN_RUNNING, {"run": run_id})
        c.execute(_NODE_SUCCEEDED, {"node": task_id, **values})
        c.execute(_RUN_SUCCEEDED, {"run": run_id, "at": utcnow()})


def success(result: Any) -> dict[str, Any]:
    """A succeeded node's column values for the result its skill returned."""
    return {"status": NodeStatus.SUCCEEDED.value, "finished_at": utcnow(), "error": None,
            "degraded": result.get("degraded") if isinstance(result, dict) else None,
            "result": result if isinstance(result, dict) else {"value": result}}


def gave_up(url: str, letter: Letter) -> None:
    """Write the dead letter and, for a run's node, fail the node and its run: one transaction.

    If the store refuses the record for what it holds rather than for being unreachable, a minimal record (ids,
    reason, error) is written instead, so that the message still leaves exactly one.
    """
    letter = replace(letter, run_id=_run_id(letter.run_id))
    try:
        _give_up(url, letter)
    except Exception as error:
        if _unreachable(error):
            logger.exception("could not record the dead letter of task %s: the store is unreachable", letter.task_id)
            return
        logger.exception("could not record the dead letter of task %s whole; recording a minimal one", letter.task_id)
        with _logged("minimal dead letter", letter.task_id):
            _give_up(url, dead_letters.minimal(letter, error))


def _give_up(url: str, letter: Letter) -> None:
    with session(url) as s:
        node = s.scalar(select(Node.name).where(Node.task_id == letter.task_id)) if letter.run_id else None
        dead_letters.record(s, replace(letter, node=node))
        if node is None:
            return
        error = dead_letters.storable(f"{letter.error_type}: {letter.error_message}",
                                    get_settings().dead_letter_max_chars)
        s.execute(update(Node).where(Node.task_id == letter.task_id)
                  .values(status=NodeStatus.FAILED.value, finished_at=utcnow(), error=error))
        s.execute(update(Run).where(Run.id == letter.run_id, Run.status.in_(OPEN))
                  .values(status=RunStatus.FAILED.value, finished_at=utcnow(), error=f"{node}: {error}"))


def _unreachable(error: BaseException) -> bool:
    """Whether ``error`` says the store could not be reached or used at all, rather than that it refused a value."""
    if not isinstance(error, OperationalError | InterfaceError | PoolTimeout):
        return False
    state = getattr(getattr(error, "orig", None), "sqlstate", None)  # PostgreSQL's class: 08 connection, 53, 57
    return state is None or state.startswith(("08", "53", "57"))


def retrying(url: str, task_id: str, action: Action, error: str, in_run: bool) -> None:
    """Keep a failed attempt that will be retried or deferred; a run's node is marked retrying."""
    with _logged("retry", task_id), session(url) as s:
        kept = dead_letters.keep_attempt(s, task_id, action.value, error)
        if in_run:
            s.execute(update(Node).where(Node.task_id == task_id).values(status=NodeStatus.RETRYING.value, error=kept))


def attempts_done(url: str, task_id: str) -> None:
    """Forget the failed attempts kept for ``task_id``: it succeeded, so no dead letter will take them over."""
    with _logged("attempts cleanup", task_id), session(url) as s:
        s.execute(delete(Attempt).where(Attempt.task_id == task_id))


def retries_spent(url: str, task_id: str) -> int:
    """How many retries ``task_id`` has spent by the attempts kept in the store (0 if they cannot be read)."""
    with _logged("retry count", task_id), session(url) as s:
        return s.scalar(select(func.count()).where(Attempt.task_id == task_id,
                                                   Attempt.action == Action.RETRY.value)) or 0
    return 0


def count_delivery(url: str, task_id: str) -> int:
    """Count a redelivery of ``task_id`` and return its deliveries so far (the first redelivery makes 2).

    Each earlier delivery counts as an attempt of the node, even if its start was never written: a start is
    held back briefly (organism.workflows.node_writer) and dies with a killed process.
    """
    with session(url) as s:
        delivery = s.get(Delivery, task_id, with_for_update=True)
        if delivery is None:
            delivery = Delivery(task_id=task_id, count=1)
            s.add(delivery)
        delivery.count += 1
        delivery.updated_at = utcnow()
        earlier = delivery.count - 1
        s.execute(update(Node).where(Node.task_id == task_id, Node.attempts < earlier).values(attempts=earlier))
        return delivery.count


def deliveries(url: str, task_id: str) -> int:
    """How often ``task_id`` was delivered (1 unless it was redelivered)."""
    with _logged("delivery count", task_id), session(url) as s:
        return s.scalar(select(Delivery.count).where(Delivery.task_id == task_id)) or 1
    return 1  # the count could not be read (logged): the dead letter says first delivery
