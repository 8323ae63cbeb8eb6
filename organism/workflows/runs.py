"""Workflow runs: built by pure functions, started once per run key, tracked node by node in the store.

A workflow module registers a builder with :func:`register`; :func:`start` gives the run its key
(``daily-sync:2026-11-23``), writes the run and its nodes in one transaction (the key's uniqueness makes two
starts one run), and only then publishes the canvas.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import pairwise
from typing import Any

from celery import Celery, Signature, current_app, shared_task
from kombu.exceptions import OperationalError
from sqlalchemy import delete, exists, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from organism.errors import OrganismError
from organism.failures.outages import unreachable
from organism.settings import Settings, get_settings, masked
from organism.store import session
from organism.store.db import engine_for, rowcount
from organism.store.models import Node, NodeStatus, Report, Run, RunStatus, utcnow
from organism.workflows import tracking
from organism.workflows.tracking import NODE_HEADER, OPEN, RUN_HEADER

logger = logging.getLogger(__name__)
_NODE_IDS = uuid.UUID("6f1d9a52-3c1e-4e0b-9a59-0b7f1c2d8e41")


class UnknownWorkflow(OrganismError):
    pass


class BrokerUnavailable(OrganismError):
    pass


@dataclass(frozen=True)
class RunContext:
    """What a builder knows about the run it builds.

    Attributes:
        generation: 0 for a run's first canvas, N after its Nth resume (node task ids differ per canvas).
        reuse: results of nodes that already succeeded, by node name: a resumed run does not redo them.
    """

    run_id: str
    key: str
    day: date
    settings: Settings
    generation: int = 0
    reuse: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class NodeSpec:
    name: str
    phase: int
    phase_name: str
    skill: str
    organ: str
    task_id: str


@dataclass
class Plan:
    """A workflow's canvas and the nodes it will track, as a builder returns them."""

    signature: Signature | None = None
    nodes: list[NodeSpec] = field(default_factory=list)

    def node(self, ctx: RunContext, sig: Signature, name: str, phase: int, phase_name: str) -> Signature:
        """Make ``sig`` a tracked node of the run: a task id derived from run and name, and the run header.

        In a resumed run, a node that already succeeded becomes a task that hands on its stored result.
        """
        if name in ctx.reuse:
            return stored_result.si(ctx.reuse[name])
        task_id = str(uuid.uuid5(_NODE_IDS, f"{ctx.run_id}/{name}" + (f"/{ctx.generation}" if ctx.generation else "")))
        organ = sig.type.skill.organ
        self.nodes.append(NodeSpec(name, phase, phase_name, sig.task, organ, task_id))
        return sig.set(task_id=task_id, headers={RUN_HEADER: ctx.run_id, NODE_HEADER: name})

    def errback(self, ctx: RunContext) -> Signature:
        """The errback to attach to chord bodies: a failed header reaches its chord body's errbacks."""
        return run_failed.s(run_id=ctx.run_id, generation=ctx.generation)


Builder = Callable[[RunContext], Plan]
_BUILDERS: dict[str, Builder] = {}


def register(name: str) -> Callable[[Builder], Builder]:
    """Register a workflow builder under ``name`` (the first part of its run keys)."""

    def remember(build: Builder) -> Builder:
        _BUILDERS[name] = build
        return build

    return remember


def builder(app: Celery, name: str) -> Builder:
    app.loader.import_default_modules()
    try:
        return _BUILDERS[name]
    except KeyError:
        known = ", ".join(sorted(_BUILDERS)) or "none"
        raise UnknownWorkflow(f"unknown workflow {name!r}; known workflows: {known}") from None


def today(settings: Settings) -> date:
    """The date in the configured time zone, which is what a run key names."""
    return datetime.now(settings.zone).date()


@dataclass(frozen=True)
class Started:
    run_id: str
    key: str
    created: bool


def start(app: Celery, name: str, day: date | None = None) -> Started:
    """Start workflow ``name`` for ``day`` unless a run with that key exists; return the run either way.

    Raises:
        UnknownWorkflow: no builder is registered under ``name``.
        BrokerUnavailable: the canvas could not be published; no run is left behind.
    """
    settings: Settings = app.settings
    day = day or today(settings)
    key = f"{name}:{day.isoformat()}"
    ctx = RunContext(run_id=str(uuid.uuid4()), key=key, day=day, settings=settings)
    plan = builder(app, name)(ctx)
    url = settings.database
    try:
        # Core inserts rather than the ORM's unit of work: this is on the path of every run's start.
        with engine_for(url).begin() as c:
            c.execute(insert(Run), {"id": ctx.run_id, "key": key, "workflow": name, "params": {"day": day.isoformat()},
                                    "deadline_at": utcnow() + timedelta(seconds=settings.run_deadline_s)})
            c.execute(insert(Node), [{"run_id": ctx.run_id, "task_id": n.task_id, "name": n.name, "phase": n.phase,
                                      "phase_name": n.phase_name, "skill": n.skill, "organ": n.organ}
                                     for n in plan.nodes])
    except IntegrityError:
        with session(url) as s:
            existing = s.scalar(select(Run.id).where(Run.key == key))
        if existing is None:
            raise
        return Started(existing, key, created=False)
    assert plan.signature is not None, f"workflow {name} built no canvas"
    try:
        plan.signature.apply_async()
    except unreachable(app) as error:
        with session(url) as s:
            s.execute(delete(Run).where(Run.id == ctx.run_id))
        raise BrokerUnavailable(f"could not publish run {key} to {masked(settings.broker)}: {error}") from None
    return Started(ctx.run_id, key, created=True)


class CannotResume(OrganismError):
    pass


# Events of a run's history.
RESUMED, WATCHDOG_RESUMED, WATCHDOG_FAILED = "resumed", "watchdog resumed", "watchdog failed"
RESUME_NOT_SENT = "resume not sent"


def note(run: Run, event: str, detail: str) -> None:
    """Add an entry to the run's history (in the caller's session)."""
    run.history = [*(run.history or []), {"at": utcnow().isoformat(timespec="seconds"), "event": event,
                                          "detail": detail}]


def resume(app: Celery, ref: str) -> Started:
    """Run again the nodes of a finished, failed run that did not succeed, reusing the others' results.

    Raises:
        CannotResume: no such run, it has not failed, or some of its nodes are still at work.
    """
    settings: Settings = app.settings
    with session(settings.database) as s:
        run = s.scalar(select(Run).where((Run.id == ref) | (Run.key == ref)).with_for_update())
        if run is None:
            raise CannotResume(f"no run {ref!r}; `organism runs` lists them")
        if run.status != RunStatus.FAILED.value:
            raise CannotResume(f"run {run.key} is {run.status}; only a failed run can be resumed")
        busy = [n.name for n in run.nodes if n.status in (NodeStatus.RUNNING.value, NodeStatus.RETRYING.value)]
        if busy:
            raise CannotResume(f"run {run.key} still has nodes at work ({', '.join(busy)}); resume it when they "
                               "finish")
        canvas = _relaunch(app, s, run, RESUMED, "by `organism runs resume`")
        if canvas is None:
            raise CannotResume(f"run {run.key} was resumed meanwhile")
        run.status, run.error, run.finished_at = RunStatus.PENDING.value, None, None
        run.deadline_at = utcnow() + timedelta(seconds=settings.run_deadline_s)
        started = Started(run.id, run.key, created=False)
    canvas.apply_async()
    return started


def _relaunch(app: Celery, s: Session, run: Run, event: str, why: str) -> Signature | None:
    """Give ``run`` its next canvas in session ``s``: the nodes that did not succeed start over as pending under
    new task ids, the others hand on their stored results. Returns the canvas, to publish once ``s`` has
    committed (a node's bookkeeping finds its row by the new task id); None if another process gave the run its
    next canvas first.

    Every errback and node of the replaced canvas is now of an earlier generation: it changes nothing.
    """
    generation = run.generation + 1
    # The generation is claimed with a guarded UPDATE: SQLite does not lock the row the caller read, so two
    # watchdog rounds at once (beat sends one to every organ) could otherwise both resume the run.
    if not rowcount(s.execute(update(Run).where(Run.id == run.id, Run.generation == run.generation)
                              .values(generation=generation))):
        return None
    done = {n.name: n.result for n in run.nodes if n.status == NodeStatus.SUCCEEDED.value}
    ctx = RunContext(run_id=run.id, key=run.key, day=date.fromisoformat(run.params["day"]),
                     settings=app.settings, generation=generation, reuse=done)
    plan = builder(app, run.workflow)(ctx)
    new_ids = {n.name: n.task_id for n in plan.nodes}
    for node in run.nodes:
        if node.name in new_ids:
            node.task_id, node.status, node.attempts = new_ids[node.name], NodeStatus.PENDING.value, 0
            node.error = node.result = node.started_at = node.finished_at = None
    note(run, event, f"{why}; sent again: {', '.join(new_ids)}")
    assert plan.signature is not None, f"workflow {run.workflow} built no canvas"
    return plan.signature


@shared_task(name="organism.stored_result", ignore_result=False)
def stored_result(value: Any) -> Any:
    """Hand on a result a node produced in an earlier canvas of the same run."""
    return value


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
        open_runs = s.execute(select(Run.id, Run.deadline_at < now, ~stirred).where(Run.status.in_(OPEN))).all()
    failed = []
    for run_id, overdue, quiet in open_runs:
        canvas = None
        with session(url) as s:  # one run at a time, locked as node writers lock it
            run = s.scalar(select(Run).where(Run.id == run_id, Run.status.in_(OPEN)).with_for_update())
            if run is None:
                continue
            recovered = False
            for node in run.nodes:
                done, result = _backend_success(app, node)
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
                canvas = _relaunch(app, s, run, WATCHDOG_RESUMED,
                                   f"{stall.finished} had finished and {stall.waiting} had not started for "
                                   f"{grace.total_seconds():.0f}s (its chord's state was lost)")
                key = run.key
        if canvas is not None:
            logger.warning("watchdog resumed run %s: its chord's state was lost", key)
            _send_resume(url, run_id, canvas)
    return failed


def _send_resume(url: str, run_id: str, canvas: Signature) -> None:
    """Publish the canvas of a watchdog resume; if the broker refuses it, say so in the run's history (the run
    then fails at its deadline)."""
    try:
        canvas.apply_async()
    except (OperationalError, OSError) as error:
        logger.error("watchdog could not send the resumed canvas of run %s: %s", run_id, error)
        with session(url) as s:
            run = s.scalar(select(Run).where(Run.id == run_id).with_for_update())
            if run is not None:
                note(run, RESUME_NOT_SENT, f"{type(error).__name__}: {error}")


@dataclass(frozen=True)
class Stall:
    finished: str  # the phase whose nodes all succeeded
    waiting: str  # the next phase, none of whose nodes ever started


def stalled(nodes: list[Node]) -> Stall | None:
    """A phase whose nodes all succeeded followed by one none of whose nodes ever started, if the run shows one:
    what a chord whose body was never sent leaves behind (or, for a while, one whose body waits in its queue)."""
    for done, following in pairwise(_by_phase(nodes)):
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
    if failed:
        logger.warning("watchdog failed overdue runs: %s", ", ".join(failed))
    return failed


@shared_task(name="organism.start_workflow", bind=True, ignore_result=True)
def start_workflow(self: Any, name: str, day: str | None = None) -> str:
    """Start a workflow from a message (this is what beat sends); the run key keeps it to one run."""
    return start(self.app, name, date.fromisoformat(day) if day else None).run_id


def find_run(url: str, ref: str) -> Run | None:
    """A run with its nodes, by id or key."""
    with session(url) as s:
        return s.scalar(select(Run).options(selectinload(Run.nodes)).where((Run.id == ref) | (Run.key == ref)))


def recent_runs(url: str, limit: int = 20) -> list[Run]:
    with session(url) as s:
        return list(s.scalars(select(Run).options(selectinload(Run.nodes))
                              .order_by(Run.created_at.desc()).limit(limit)))


def phase_durations(run: Run) -> list[tuple[str, str, float | None]]:
    """(phase name, status, seconds from its first start to its last finish) in phase order."""
    rows = []
    for nodes in _by_phase(run.nodes):
        statuses = {n.status for n in nodes}
        status = next((s for s in ("failed", "retrying", "running", "pending") if s in statuses), "succeeded")
        starts = [n.started_at for n in nodes if n.started_at]
        ends = [n.finished_at for n in nodes if n.finished_at]
        seconds = (max(ends) - min(starts)).total_seconds() if starts and len(ends) == len(nodes) else None
        rows.append((nodes[0].phase_name, status, seconds))
    return rows


def _by_phase(nodes: list[Node]) -> list[list[Node]]:
    phases: dict[int, list[Node]] = {}
    for n in nodes:
        phases.setdefault(n.phase, []).append(n)
    return [phases[p] for p in sorted(phases)]


def node_results(app: Celery, run: Run) -> dict[str, Any]:
    """The results of the run's finished nodes by name: from the store, or from Celery's result backend for a
    node whose row the bookkeeping writer has not reached yet (see organism.workflows.tracking)."""
    results = {n.name: n.result for n in run.nodes if n.status == NodeStatus.SUCCEEDED.value}
    for n in run.nodes:
        done, result = _backend_success(app, n)
        if done:
            results[n.name] = result
    return results


def _backend_success(app: Celery, node: Node) -> tuple[bool, Any]:
    """``(True, result)`` when Celery's result backend has the success of a node whose row does not say so."""
    if node.status == NodeStatus.SUCCEEDED.value:
        return False, None
    found = app.AsyncResult(node.task_id)
    return (True, found.result) if found.state == "SUCCESS" else (False, None)


def save_report(url: str, run_id: str, summary: str, body: dict[str, Any]) -> None:
    """Keep a run's report (replacing an earlier one of the same run, so a redelivered store step is harmless)."""
    with session(url) as s:
        s.merge(Report(run_id=run_id, summary=summary, body=body, created_at=utcnow()))


def report_of(url: str, run_id: str) -> Report | None:
    with session(url) as s:
        return s.get(Report, run_id)
