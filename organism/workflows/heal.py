"""A failed run healed by the replays of its dead letters.

When a replayed node succeeds, the worker that ran it calls :func:`replayed_node_succeeded` (after its node's
success is written). While other nodes of the run are still failed or at work, the run stays failed; once none
is, the run is reopened: the phases after the replayed nodes run, reusing every stored result, and the run ends
with its report. Two replays succeeding at once are serialized by the run's row lock, and the run's generation
is claimed once (:func:`organism.workflows.start.relaunch`), so the run goes on exactly once.
"""

from __future__ import annotations

import logging

from celery import Celery, Signature
from sqlalchemy import exists, select

from organism.security.payloads import PayloadError
from organism.store import session
from organism.store.models import Node, NodeStatus, Run, RunStatus, utcnow
from organism.workflows.start import BrokerUnavailable, InvalidParameters, note, reopen, send

HEALED = "healed"  # the event a healed run leaves in its history
REPLAYED = "replayed"  # the event a replay into a run leaves in its history (organism.failures.replay)
logger = logging.getLogger(__name__)
_UNSETTLED = (NodeStatus.FAILED.value, NodeStatus.RUNNING.value, NodeStatus.RETRYING.value)


def replayed_node_succeeded(app: Celery, run_id: str, node: str) -> None:
    """Go on with failed run ``run_id`` if the replayed ``node`` was the last of its nodes to settle."""
    heal(app, run_id, f"{node} succeeded on replay")


def unhealed(app: Celery) -> None:
    """Heal the failed runs whose last event is a replay and none of whose nodes is failed or at work: the worker
    of the replay that settled the last node died before it could (the watchdog calls this every round)."""
    settled = ~exists().where(Node.run_id == Run.id, Node.status.in_((*_UNSETTLED, NodeStatus.CANCELLED.value)))
    with session(app.settings.database) as s:
        found = s.execute(select(Run.id, Run.history).where(Run.status == RunStatus.FAILED.value, settled)).all()
    for run_id, history in found:
        if history and history[-1]["event"] == REPLAYED:
            heal(app, run_id, "its replayed nodes succeeded (healed by the watchdog)")


def heal(app: Celery, run_id: str, why: str) -> None:
    """Go on with failed run ``run_id`` (``why``: what settled it) if none of its nodes is failed or at work."""
    canvas: Signature | None = None
    with session(app.settings.database) as s:
        run = s.scalar(select(Run).where(Run.id == run_id).with_for_update())
        if run is None or run.status != RunStatus.FAILED.value:
            return
        unsettled = [n.name for n in run.nodes if n.status in _UNSETTLED]
        if unsettled:
            logger.info("run %s: %s; still to go: %s", run.key, why, ", ".join(unsettled))
            return
        if all(n.status == NodeStatus.SUCCEEDED.value for n in run.nodes):
            run.status, run.error, run.finished_at = RunStatus.SUCCEEDED.value, None, utcnow()
            note(run, HEALED, f"{why}; every node has succeeded")
            return
        try:
            canvas = reopen(app, s, run, HEALED, f"{why}; no node is failed any more")
        except (InvalidParameters, PayloadError) as error:  # PayloadError: a sensitive skill, no key here
            note(run, HEALED, f"{why}, but the run cannot go on: {error}")
            return
        key = run.key
    if canvas is not None:
        logger.info("run %s healed: %s", key, why)
        try:
            send(app, run_id, canvas)
        except BrokerUnavailable as error:
            logger.error("run %s healed by replay, but %s; resume it once the broker is back", key, error)
