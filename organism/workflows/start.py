"""Starting and resuming runs.

:func:`start` validates the parameters, derives the run key (``daily-sync:2026-11-23``), writes the run and its
nodes in one transaction (the key's uniqueness makes two starts one run), and only then publishes the canvas.
:func:`resume` and the watchdog give a failed or stalled run its next canvas (:func:`relaunch`).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from celery import Celery, Signature, shared_task
from pydantic import BaseModel, ValidationError
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from organism.brokers.confirms import confirmed_together
from organism.brokers.results import not_waiting
from organism.errors import OrganismError
from organism.failures.outages import unreachable
from organism.observability import tracing
from organism.security.payloads import PayloadError
from organism.settings import Settings, masked
from organism.store import session
from organism.store.db import engine_for, rowcount
from organism.store.models import OPEN_RUNS, DeadLetter, DeadLetterStatus, Node, NodeStatus, Run, RunStatus, utcnow
from organism.workflows import registry
from organism.workflows.declaration import Overlap, ParamsContext, Schedule, Workflow
from organism.workflows.plan import Plan, RunContext

logger = logging.getLogger(__name__)


class InvalidParameters(OrganismError):
    """A run's parameters are wrong; the message names the workflow and each parameter."""


class BrokerUnavailable(OrganismError):
    pass


class CannotResume(OrganismError):
    pass


# Events of a run's history.
STARTED, SKIPPED, RESUMED = "started", "skipped", "resumed"
WATCHDOG_RESUMED, WATCHDOG_FAILED, RESUME_NOT_SENT = "watchdog resumed", "watchdog failed", "resume not sent"


@dataclass(frozen=True)
class Started:
    run_id: str
    key: str
    created: bool
    skipped: str | None = None  # why a scheduled firing did not start (its run is recorded as skipped)


def parameters(app: Celery, workflow: Workflow, raw: Mapping[str, Any], schedule: Schedule | None = None) -> BaseModel:
    """``raw`` validated by the workflow's parameters model.

    Raises:
        InvalidParameters: one line naming the workflow and each wrong parameter.
    """
    settings: Settings = app.settings
    schedule = schedule or next(iter(registry.schedules(workflow, settings)), None)
    try:
        return workflow.params.model_validate(dict(raw), context=ParamsContext(settings, schedule, today_in(schedule)))
    except ValidationError as error:
        raise InvalidParameters(f"workflow {workflow.name}: {describe(workflow, error)}") from None


def describe(workflow: Workflow, error: ValidationError) -> str:
    """Each problem as ``parameter NAME: what is wrong (got VALUE)``, joined by '; '."""
    known = ", ".join(workflow.params.model_fields)
    problems = []
    for problem in error.errors():
        where = ".".join(str(part) for part in problem["loc"]) or "parameters"
        if problem["type"] == "extra_forbidden":
            problems.append(f"parameter {where}: no such parameter (its parameters: {known})")
            continue
        given = problem.get("input")
        shown = "" if isinstance(given, dict) or problem["type"] == "missing" else f" (got {given!r})"
        problems.append(f"parameter {where}: {problem['msg'].removeprefix('Value error, ')}{shown}")
    return "; ".join(problems)


def start(app: Celery, name: str, params: Mapping[str, Any] | None = None, *, schedule: Schedule | None = None,
          by: str = "by hand") -> Started:
    """Start workflow ``name`` with ``params`` unless a run with their key exists; return the run either way.

    A scheduled firing (``schedule`` given) whose schedule skips overlaps, while another run of the workflow is
    open, is recorded as a skipped run under its key instead.

    Raises:
        UnknownWorkflow: no workflow is declared as ``name``.
        InvalidParameters: a parameter is wrong; nothing was written or published.
        PayloadError: the canvas calls a skill declared sensitive and no payload key is configured; likewise.
        BrokerUnavailable: the canvas could not be published; no run is left behind.
    """
    settings: Settings = app.settings
    workflow = registry.workflow(app, name)
    valid = parameters(app, workflow, params or {}, schedule)
    key = f"{name}:{workflow.key(valid)}"
    run: dict[str, Any] = {"id": str(uuid.uuid4()), "key": key, "workflow": name,
                           "params": valid.model_dump(mode="json")}
    url = settings.database
    if schedule is not None and schedule.overlap is Overlap.SKIP:
        with session(url) as s:
            busy = s.scalar(select(Run.key).where(Run.workflow == name, Run.status.in_(OPEN_RUNS), Run.key != key))
        if busy is not None:
            return _skip(url, run, f"{by}: {busy} was still open")
    ctx = RunContext(run_id=run["id"], key=key, params=valid, settings=settings)
    plan: Plan = workflow.build(ctx)
    app.amqp.check_sealable(plan.signature)  # a sensitive skill with no payload key: refused before anything is written
    try:
        # Core inserts rather than the ORM's unit of work: this is on the path of every run's start.
        with engine_for(url).begin() as c:
            c.execute(insert(Run), {**run, "deadline_at": _deadline(workflow, settings),
                                    "history": [_event(STARTED, by)]})
            c.execute(insert(Node), [{"run_id": run["id"], "task_id": n.task_id, "name": n.name, "phase": n.phase,
                                      "phase_name": n.phase_name, "skill": n.skill, "organ": n.organ}
                                     for n in plan.nodes])
    except IntegrityError:
        return _existing(url, key)
    assert plan.signature is not None, f"workflow {name} built no canvas"
    try:
        with tracing.run_started(run["id"], key, name, by):
            _publish(app, plan.signature)
    except unreachable(app) as error:
        with session(url) as s:
            s.execute(delete(Run).where(Run.id == run["id"]))
        raise BrokerUnavailable(f"could not publish run {key} to {masked(settings.broker)}: {error}") from None
    return Started(run["id"], key, created=True)


def _deadline(workflow: Workflow, settings: Settings) -> datetime:
    """When a run of ``workflow`` started now is failed if still open."""
    return utcnow() + timedelta(seconds=workflow.deadline_s or settings.run_deadline_s)


def _skip(url: str, run: dict[str, Any], why: str) -> Started:
    try:
        with engine_for(url).begin() as c:
            c.execute(insert(Run), {**run, "status": RunStatus.SKIPPED.value, "finished_at": utcnow(),
                                    "error": f"not started: {why}", "history": [_event(SKIPPED, why)]})
    except IntegrityError:
        return _existing(url, run["key"])
    logger.info("run %s skipped: %s", run["key"], why)
    return Started(run["id"], run["key"], created=False, skipped=why)


def _existing(url: str, key: str) -> Started:
    with session(url) as s:
        found = s.execute(select(Run.id, Run.status, Run.error).where(Run.key == key)).one_or_none()
    if found is None:  # the insert failed on something else than the key
        raise RuntimeError(f"run {key} could not be written and is not in the store at {masked(url)}")
    skipped = found.error if found.status == RunStatus.SKIPPED.value else None
    return Started(found.id, key, created=False, skipped=skipped)


def _event(event: str, detail: str) -> dict[str, str]:
    return {"at": utcnow().isoformat(timespec="seconds"), "event": event, "detail": detail}


def note(run: Run, event: str, detail: str) -> None:
    """Add an entry to the run's history (in the caller's session)."""
    run.history = [*(run.history or []), _event(event, detail)]


def resume(app: Celery, ref: str, by: str = "by `organism runs resume`") -> Started:
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
        try:
            canvas = reopen(app, s, run, RESUMED, by)
        except (InvalidParameters, PayloadError) as error:
            raise CannotResume(f"run {run.key} cannot be resumed: {error}") from None
        if canvas is None:
            raise CannotResume(f"run {run.key} was resumed meanwhile")
        started = Started(run.id, run.key, created=False)
    send(app, run.id, canvas)
    return started


def _publish(app: Celery, canvas: Signature) -> None:
    """Publish a run's canvas, which this process does not wait for (``not_waiting``), with one confirm wait for all
    its first messages (``confirmed_together``): raises one of ``unreachable(app)`` if they were not all taken."""
    with not_waiting(), confirmed_together(app):
        canvas.apply_async()


def send(app: Celery, run_id: str, canvas: Signature) -> None:
    """Publish the canvas a run was reopened with; if the broker refuses it, the run is failed again, saying so in
    its error and history (it can be resumed once the broker is back).

    Raises:
        BrokerUnavailable: the canvas was not published.
    """
    try:
        with tracing.run_resent(run_id):
            _publish(app, canvas)
    except unreachable(app) as error:
        why = f"could not publish the canvas to {masked(app.settings.broker)}: {type(error).__name__}: {error}"
        with session(app.settings.database) as s:
            run = s.scalar(select(Run).where(Run.id == run_id).with_for_update())
            if run is not None:
                run.status, run.finished_at, run.error = RunStatus.FAILED.value, utcnow(), why
                note(run, RESUME_NOT_SENT, why)
        raise BrokerUnavailable(why) from None


def reopen(app: Celery, s: Session, run: Run, event: str, why: str) -> Signature | None:
    """:func:`relaunch` a finished run: it is open again (pending, with a new deadline) once ``s`` commits."""
    canvas = relaunch(app, s, run, event, why)
    if canvas is not None:
        run.status, run.error, run.finished_at = RunStatus.PENDING.value, None, None
        run.deadline_at = _deadline(registry.workflow(app, run.workflow), app.settings)
    return canvas


def relaunch(app: Celery, s: Session, run: Run, event: str, why: str) -> Signature | None:
    """Give ``run`` its next canvas in session ``s``: the nodes that did not succeed start over as pending under
    new task ids, the others hand on their stored results. Returns the canvas, to publish once ``s`` has
    committed (a node's bookkeeping finds its row by the new task id); None if another process gave the run its
    next canvas first.

    Every errback and node of the replaced canvas is now of an earlier generation: it changes nothing.
    """
    workflow = registry.workflow(app, run.workflow)
    valid = parameters(app, workflow, run.params)
    generation = run.generation + 1
    # The generation is claimed with a guarded UPDATE: SQLite does not lock the row the caller read, so two
    # watchdog rounds at once (beat sends one to every organ) could otherwise both resume the run.
    if not rowcount(s.execute(update(Run).where(Run.id == run.id, Run.generation == run.generation)
                              .values(generation=generation))):
        return None
    done = {n.name: n.result for n in run.nodes if n.status == NodeStatus.SUCCEEDED.value}
    ctx = RunContext(run_id=run.id, key=run.key, params=valid, settings=app.settings, generation=generation,
                     reuse=done)
    plan: Plan = workflow.build(ctx)
    app.amqp.check_sealable(plan.signature)
    new_ids = {n.name: n.task_id for n in plan.nodes}
    for node in run.nodes:
        if node.name in new_ids:
            node.task_id, node.status = new_ids[node.name], NodeStatus.PENDING.value
            node.error = node.result = node.first_started_at = node.started_at = node.finished_at = None
    # The dead letters of the nodes sent again are settled by this canvas: replaying one now would run its node
    # twice. Each links to its node's new task.
    for letter in s.scalars(select(DeadLetter).where(DeadLetter.run_id == run.id, DeadLetter.node.in_(new_ids),
                                                     DeadLetter.status == DeadLetterStatus.DEAD.value)):
        letter.status, letter.replayed_at = DeadLetterStatus.REPLAYED.value, utcnow()
        letter.replayed_as = new_ids[letter.node or ""]
    note(run, event, f"{why}; sent again: {', '.join(new_ids)}")
    assert plan.signature is not None, f"workflow {run.workflow} built no canvas"
    return plan.signature


@shared_task(name="organism.start_workflow", bind=True, ignore_result=True)
def start_workflow(self: Any, name: str, params: dict[str, Any] | None = None, schedule: str | None = None,
                   fired_at: str | None = None) -> str:
    """Start a workflow from a message (beat sends one per firing); the run key keeps it to one run."""
    workflow = registry.workflow(self.app, name)
    in_force = {s.ident: s for s in registry.schedules(workflow, self.app.settings)}
    by = f"schedule {schedule}, firing {fired_at}" if schedule else "by message"
    return start(self.app, name, params, schedule=in_force.get(schedule or ""), by=by).run_id


def today_in(schedule: Schedule | None) -> date:
    """The date in the schedule's zone (UTC without one)."""
    return datetime.now(schedule.tz if schedule else UTC).date()
