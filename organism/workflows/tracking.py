"""Node bookkeeping written from a skill's hooks, and the errback that fails a run.

A skill call belongs to a run when its message carries the run headers (organism.headers); its node row is keyed
by the task id. Bookkeeping never fails a skill: a store error is logged and the skill's own outcome stands.
What a failure writes (the dead letter, which fails the node and its run, attempts and deliveries) is in
:mod:`organism.failures.bookkeeping`.

The functions here write synchronously. A worker writes a node's start and success through
:mod:`organism.workflows.node_writer`, off the task's critical path.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from celery import Celery, shared_task, states
from celery.exceptions import BackendGetMetaError
from sqlalchemy import bindparam, exists, func, select, update

from organism.failures.bookkeeping import logged
from organism.failures.outages import unreachable
from organism.settings import get_settings
from organism.store import session
from organism.store.db import engine_for
from organism.store.models import OPEN_RUNS, Base, Node, NodeStatus, Run, RunStatus, utcnow

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
        s.execute(update(Run).where(Run.id == run_id, Run.generation == generation, Run.status.in_(OPEN_RUNS))
                  .values(status=RunStatus.FAILED.value, finished_at=utcnow(),
            error=f"{name or 'task ' + request.id}: {type(exc).__name__}: {exc}"))


# Node start and success run for every node of every run: their statements are built once and run through
# Core, since the ORM's per-statement work was most of their CPU time, and the writer thread shares the GIL with
# the worker's next task.
_nodes, _runs = Base.metadata.tables[Node.__tablename__], Base.metadata.tables[Run.__tablename__]
_NODE_RUNNING = update(_nodes).where(_nodes.c.task_id == bindparam("node"),
                                     _nodes.c.status != NodeStatus.CANCELLED.value).values(
    status=NodeStatus.RUNNING.value, started_at=bindparam("at"), attempts=_nodes.c.attempts + 1,
    first_started_at=func.coalesce(_nodes.c.first_started_at, bindparam("at")))
_RUN_RUNNING = update(_runs).where(_runs.c.id == bindparam("run"), _runs.c.status == RunStatus.PENDING.value).values(
    status=RunStatus.RUNNING.value)
_LOCK_RUN = select(_runs.c.id).where(_runs.c.id == bindparam("run")).with_for_update()
_NODE_SUCCEEDED = update(_nodes).where(_nodes.c.task_id == bindparam("node")).values(
    status=bindparam("b_status"), finished_at=bindparam("b_finished_at"), error=bindparam("b_error"),
    degraded=bindparam("b_degraded"), result=bindparam("b_result"))
_RUN_SUCCEEDED = update(_runs).where(
    _runs.c.id == bindparam("run"), _runs.c.status.in_(OPEN_RUNS),
    ~exists().where(_nodes.c.run_id == bindparam("run"), _nodes.c.status != NodeStatus.SUCCEEDED.value),
).values(status=RunStatus.SUCCEEDED.value, finished_at=bindparam("at"))


# A cancelled node is marked where its worker looks anyway, the result backend (one read, where a look in the
# store cost three round trips and 0.8 ms on every node's start): the store's row stays what the run is.
def mark_cancelled(app: Celery, task_ids: Iterable[str], why: str) -> None:
    """Store each of ``task_ids`` that has no result as ``REVOKED`` (why: ``why``), so a worker that takes one
    skips it; a result already stored is left as it is (as Celery's own revoke does)."""
    for task_id in task_ids:
        try:
            if app.backend.get_state(task_id) not in states.READY_STATES:
                app.backend.mark_as_revoked(task_id, reason=why)
        except unreachable(app) as error:
            logger.warning("could not mark node %s cancelled in the result backend (%s); a worker the revoke did not "
                           "reach may run it", task_id, error)


def node_cancelled(app: Celery, task_id: str) -> bool:
    """Whether node ``task_id`` was cancelled with its run (a worker the revoke did not reach skips it); a result
    backend out of reach, or a stored state it refuses to read, says no, with a warning."""
    try:
        return bool(app.backend.get_state(task_id) == states.REVOKED)
    except (*unreachable(app), BackendGetMetaError) as error:
        logger.warning("could not read whether node %s was cancelled (%s); running it", task_id, error)
        return False


def node_started(url: str, task_id: str, run_id: str) -> None:
    """Mark the node running and count the attempt; the run is running from its first node on."""
    with logged("start", task_id), engine_for(url).begin() as c:
        c.execute(_RUN_RUNNING, {"run": run_id})  # the run's row before the node's, as every writer of both
        c.execute(_NODE_RUNNING, {"node": task_id, "at": utcnow()})


def node_succeeded(url: str, task_id: str, run_id: str, result: Any, started_at: datetime | None = None) -> None:
    """Store the node's result; when it was the run's last unfinished node, the run has succeeded.

    With ``started_at``, the node's start is written in the same transaction (:func:`node_started` was not).
    The run's row is locked first, so of two nodes finishing at once (in different processes, whose writes
    arrive in any order) the second sees the first's commit, and exactly one of them finds nothing unfinished.
    """
    values = {f"b_{column}": value for column, value in success(result).items()}
    with logged("success", task_id), engine_for(url).begin() as c:
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
