"""Keeping open runs true to what Celery did: the watchdog beat sends to every organ.

Celery does not reliably fire every chord errback, a killed worker can take a node's bookkeeping with it, and a
result backend restarted without persistence forgets its chords: :func:`settle` records what the result backend
knows, resumes a run whose chord state was lost (once), and fails a run past its deadline.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from itertools import pairwise

from celery import Celery, Signature, current_app, shared_task
from sqlalchemy import exists, select

from organism.settings import Settings
from organism.store import session
from organism.store.models import OPEN_RUNS, Node, NodeStatus, Run, RunStatus, utcnow
from organism.workflows import heal, tracking
from organism.workflows.queries import backend_success, by_phase
from organism.workflows.start import WATCHDOG_FAILED, WATCHDOG_RESUMED, BrokerUnavailable, note, relaunch, send

logger = logging.getLogger(__name__)


def settle(app: Celery) -> list[str]:
    """Bring every open run's bookkeeping up to date with Celery; resume stalled runs; fail overdue ones.

    A node that Celery's result backend knows as succeeded is recorded so first: its process died before its
    row was written (.node_writer). A run whose nodes all succeeded is marked succeeded; an overdue run
    with unfinished nodes is failed, naming them. A run that has :func:`stalled`, with no node started or
    finished for ``stall_grace`` of its deadline, lost its chord's state (a result backend restarted without
    persistence keeps no chord counters, so the chord body is never sent): it is resumed, once per run.
    Returns the keys of the runs it failed.
    """
    settings: Settings = app.settings
    url, now = settings.database, utcnow()
    grace = timedelta(seconds=settings.stall_grace * settings.run_deadline_s)
    stirred = exists().where(Node.run_id == Run.id, (Node.started_at > now - grace) | (Node.finished_at > now - grace))
    with session(url) as s:  # times are compared in SQL: SQLite hands datetimes back without a zone
        open_runs = s.execute(select(Run.id, Run.deadline_at < now, ~stirred).where(Run.status.in_(OPEN_RUNS))).all()
    failed = []
    for run_id, overdue, quiet in open_runs:
        canvas = None
        with session(url) as s:  # one run at a time, locked as node writers lock it
            run = s.scalar(select(Run).where(Run.id == run_id, Run.status.in_(OPEN_RUNS)).with_for_update())
            if run is None:
                continue
            recovered = False
            for node in run.nodes:
                done, result = backend_success(app, node)
                if done:
                    for column, value in tracking.success(result).items():
                        setattr(node, column, value)
                    node.attempts, recovered = node.attempts or 1, True
            waiting = [n.name for n in run.nodes if n.status != NodeStatus.SUCCEEDED.value]
            resumed = next((e for e in run.history or [] if e["event"] == WATCHDOG_RESUMED), None)
            if not waiting:
                run.status, run.finished_at = RunStatus.SUCCEEDED.value, utcnow()
            elif overdue:
                run.status, run.finished_at = RunStatus.FAILED.value, utcnow()
                run.error = (f"deadline {run.deadline_at:%Y-%m-%d %H:%M:%S} passed; unfinished: {', '.join(waiting)}"
                             + (f"; the watchdog had resumed it once, at {resumed['at']}" if resumed else ""))
                note(run, WATCHDOG_FAILED, run.error)
                failed.append(run.key)
            elif quiet and not recovered and not resumed and (stall := stalled(run.nodes)):
                canvas = relaunch(app, s, run, WATCHDOG_RESUMED,
                                   f"{stall.finished} had finished and {stall.waiting} had not started for "
                                   f"{grace.total_seconds():.0f}s (its chord's state was lost)")
                key = run.key
        if canvas is not None:
            logger.warning("watchdog resumed run %s: its chord's state was lost", key)
            _send_resume(app, run_id, canvas)
    return failed


def _send_resume(app: Celery, run_id: str, canvas: Signature) -> None:
    """Publish the canvas of a watchdog resume; if the broker refuses it, the run fails saying so."""
    try:
        send(app, run_id, canvas)
    except BrokerUnavailable as error:
        logger.error("watchdog could not send the resumed canvas of run %s: %s", run_id, error)


@dataclass(frozen=True)
class Stall:
    finished: str  # the phase whose nodes all succeeded
    waiting: str  # the next phase, none of whose nodes ever started


def stalled(nodes: list[Node]) -> Stall | None:
    """A phase whose nodes all succeeded followed by one none of whose nodes ever started, if the run shows one:
    what a chord whose body was never sent leaves behind (or, for a while, one whose body waits in its queue)."""
    for done, following in pairwise(by_phase(nodes)):
        if (all(n.status == NodeStatus.SUCCEEDED.value for n in done)
                and all(n.status == NodeStatus.PENDING.value and n.started_at is None for n in following)):
            return Stall(done[0].phase_name, following[0].phase_name)
    return None


@shared_task(name="organism.watchdog", ignore_result=True)
def watchdog() -> list[str]:
    """Beat runs this every ``watchdog_interval_s``: Celery does not reliably fire every chord errback, a killed
    worker can take a node's bookkeeping with it, and a result backend restarted without persistence forgets
    its chords."""
    failed = settle(current_app)
    heal.unhealed(current_app)
    if failed:
        logger.warning("watchdog failed overdue runs: %s", ", ".join(failed))
    return failed


