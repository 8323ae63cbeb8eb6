"""What a failure leaves in the store: the dead letter (which fails the run's node and its run in the same
transaction), the attempts of a call being retried, and how often a message was delivered.

Called from a skill's hooks and from the consumer that checks messages before the pool; a store error here is
logged and never changes what happens to the message, except in :func:`count_delivery`, whose caller decides.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from organism.failures import dead_letters
from organism.failures.classify import Action
from organism.failures.dead_letters import Letter
from organism.headers import run_id_of
from organism.settings import get_settings
from organism.store import session
from organism.store.models import OPEN_RUNS, Attempt, Delivery, Node, NodeStatus, Run, RunStatus, utcnow

logger = logging.getLogger(__name__)


@contextmanager
def logged(action: str, task_id: str) -> Iterator[None]:
    """Log, rather than raise, an error writing ``action`` of ``task_id``: bookkeeping never fails a task."""
    try:
        yield
    except Exception:
        logger.exception("could not record %s of task %s; the skill's outcome is unaffected", action, task_id)


def gave_up(url: str, letter: Letter) -> None:
    """Write the dead letter and, for a run's node, fail the node and its run: one transaction.

    If the store refuses the record for what it holds rather than for being unreachable, a minimal record (ids,
    reason, error) is written instead, so that the message still leaves exactly one.
    """
    letter = replace(letter, run_id=run_id_of(letter.run_id))
    try:
        _give_up(url, letter)
    except Exception as error:
        if _unreachable(error):
            logger.exception("could not record the dead letter of task %s: the store is unreachable", letter.task_id)
            return
        logger.exception("could not record the dead letter of task %s whole; recording a minimal one", letter.task_id)
        with logged("minimal dead letter", letter.task_id):
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
        s.execute(update(Run).where(Run.id == letter.run_id, Run.status.in_(OPEN_RUNS))
                  .values(status=RunStatus.FAILED.value, finished_at=utcnow(), error=f"{node}: {error}"))


def _unreachable(error: BaseException) -> bool:
    """Whether ``error`` says the store could not be reached or used at all, rather than that it refused a value."""
    if not isinstance(error, OperationalError | InterfaceError | PoolTimeout):
        return False
    state = getattr(getattr(error, "orig", None), "sqlstate", None)  # PostgreSQL's class: 08 connection, 53, 57
    return state is None or state.startswith(("08", "53", "57"))


def retrying(url: str, task_id: str, action: Action, error: str, in_run: bool) -> None:
    """Keep a failed attempt that will be retried or deferred; a run's node is marked retrying."""
    with logged("retry", task_id), session(url) as s:
        kept = dead_letters.keep_attempt(s, task_id, action.value, error)
        if in_run:
            s.execute(update(Node).where(Node.task_id == task_id).values(status=NodeStatus.RETRYING.value, error=kept))


def attempts_done(url: str, task_id: str) -> None:
    """Forget the failed attempts kept for ``task_id``: it succeeded, so no dead letter will take them over."""
    with logged("attempts cleanup", task_id), session(url) as s:
        s.execute(delete(Attempt).where(Attempt.task_id == task_id))


def retries_spent(url: str, task_id: str) -> int:
    """How many retries ``task_id`` has spent by the attempts kept in the store (0 if they cannot be read)."""
    with logged("retry count", task_id), session(url) as s:
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
    with logged("delivery count", task_id), session(url) as s:
        return s.scalar(select(Delivery.count).where(Delivery.task_id == task_id)) or 1
    return 1  # the count could not be read (logged): the dead letter says first delivery
