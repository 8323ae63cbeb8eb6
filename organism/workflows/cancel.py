"""Cancelling a run: its unfinished nodes are revoked, and the run ends ``cancelled``.

The run's row is changed first (nodes that had not succeeded become ``cancelled``, the generation moves on, so
errbacks and heals of the revoked canvas change nothing), then every worker is told to revoke the nodes' tasks:
a queued one is discarded when a worker takes it, a running one is terminated (``SIGTERM`` to the process running
it). A revoked task leaves no dead letter (:mod:`organism.failures.bad_messages`). Workers keep revoked ids in
memory, one that starts after the cancel does not know them, and the embedded profile's SQL transport carries no
broadcasts at all: so each unfinished node is also stored ``REVOKED`` in the result backend, which a skill reads
before it runs, skipping a cancelled one (:func:`organism.workflows.tracking.node_cancelled`). On the embedded
profile a node already running finishes its attempt; the run stays cancelled whatever its nodes do.
"""

from __future__ import annotations

from dataclasses import dataclass

from celery import Celery
from sqlalchemy import select

from organism.errors import OrganismError
from organism.store import session
from organism.store.models import OPEN_RUNS, NodeStatus, Run, RunStatus, utcnow
from organism.workflows import tracking
from organism.workflows.start import note

CANCELLED = "cancelled"  # the event it leaves in the run's history
CANCELLABLE = (*OPEN_RUNS, RunStatus.FAILED.value)  # a failed run may still have replays or retries queued


class CannotCancel(OrganismError):
    pass


@dataclass(frozen=True)
class Cancelled:
    key: str
    revoked: tuple[str, ...]  # the nodes whose tasks were revoked

    def __str__(self) -> str:
        nodes = f"revoked {', '.join(self.revoked)}" if self.revoked else "no node was left to revoke"
        return f"run {self.key} cancelled: {nodes}"


def cancel(app: Celery, ref: str, by: str) -> Cancelled:
    """Cancel run ``ref`` (id or key), saying ``by`` whom in its history and error.

    Raises:
        CannotCancel: no such run, or it has succeeded, was skipped or is cancelled already.
    """
    with session(app.settings.database) as s:
        run = s.scalar(select(Run).where((Run.id == ref) | (Run.key == ref)).with_for_update())
        if run is None:
            raise CannotCancel(f"no run {ref!r}; `organism runs` lists them")
        if run.status not in CANCELLABLE:
            raise CannotCancel(f"run {run.key} is {run.status}; only a pending, running or failed run can be "
                               "cancelled")
        unfinished = [n for n in run.nodes if n.status != NodeStatus.SUCCEEDED.value]
        task_ids = [n.task_id for n in unfinished]
        for node in unfinished:
            node.status, node.error = NodeStatus.CANCELLED.value, f"cancelled {by}"
        run.generation += 1
        run.status, run.finished_at, run.error = RunStatus.CANCELLED.value, utcnow(), f"cancelled {by}"
        note(run, CANCELLED, f"{by}; revoked: {', '.join(n.name for n in unfinished) or 'nothing'}")
        done = Cancelled(run.key, tuple(n.name for n in unfinished))
    if task_ids:
        tracking.mark_cancelled(app, task_ids, f"cancelled {by}")
        app.control.revoke(task_ids, terminate=True, signal="SIGTERM")
    return done
