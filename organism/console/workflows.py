"""Workflows: each declared workflow with its parameters and schedules, and a form to start a run of it.

Starting goes through :func:`organism.workflows.start.start`, as ``organism run`` does: the parameters are
validated first, so a wrong one is refused (the form comes back with the one line naming it) before anything is
written or published, and a run key that already has a run shows that run instead of starting a second.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from organism.console.audit import audited_request
from organism.console.context import organism
from organism.workflows import registry
from organism.workflows.declaration import Schedule, Workflow
from organism.workflows.schedules import next_firing
from organism.workflows.start import BrokerUnavailable, InvalidParameters, start

workflows = Blueprint("workflows", __name__, url_prefix="/workflows")


@dataclass(frozen=True)
class Shown:
    """A workflow as its page shows it: the schedules in force, each with its next firing in its own zone."""

    workflow: Workflow
    schedules: list[tuple[Schedule, datetime | None]]


def _shown(workflow: Workflow, now: datetime) -> Shown:
    in_force = registry.schedules(workflow, organism().settings)
    return Shown(workflow, [(schedule, next_firing(schedule, now)) for schedule in in_force])


def _declared(name: str) -> Workflow:
    try:
        return registry.workflow(organism(), name)
    except registry.UnknownWorkflow as error:
        abort(404, str(error))


def _page(shown: list[Shown], values: dict[str, str] | None = None, error: str | None = None) -> str:
    return render_template("workflows.html", shown=shown, values=values or {}, error=error)


@workflows.get("")
def index() -> str:
    now = datetime.now(UTC)
    return _page([_shown(workflow, now) for workflow in registry.workflows(organism())])


@workflows.get("/<name>")
def show(name: str) -> str:
    return _page([_shown(_declared(name), datetime.now(UTC))])


@workflows.post("/<name>/runs")
def launch(name: str) -> tuple[str, int] | Response:
    app = organism()
    workflow = _declared(name)
    given = {param.name: value for param in workflow.parameters if (value := request.form.get(param.name, "").strip())}
    try:  # the guard lets only a signed-in operator post (organism.console.security)
        with audited_request(action="workflow.start", target=name, detail={"params": given}) as entry:
            started = start(app, name, given, by=f"console ({g.operator})")
            entry.outcome_detail = (f"started run {started.key} ({started.run_id})" if started.created else
                                    f"run {started.key} already exists, nothing started")
    except InvalidParameters as error:
        return _page([_shown(workflow, datetime.now(UTC))], given, str(error)), 400
    except BrokerUnavailable as error:
        return _page([_shown(workflow, datetime.now(UTC))], given, str(error)), 503
    if not started.created:
        flash(f"run {started.key} already exists: one run per run key, so nothing was started", "warning")
    return redirect(url_for("runs.show", ref=started.key))
