"""Runs: the list, and one run's DAG with node status, attempts and times, degraded and failed reasons, its history
and its report; and what an operator does to a run: resume it, cancel it, replay a failed node's dead letter
(organism.console.dead_letters). Each action is recorded in the audit trail."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime

from flask import Blueprint, abort, flash, g, redirect, render_template, url_for
from werkzeug.wrappers import Response

from organism.console.audit import audited_request
from organism.console.context import organism
from organism.console.dag import layout
from organism.failures import dead_letters as records
from organism.store.models import Run, RunStatus
from organism.workflows.cancel import CANCELLABLE, CannotCancel, cancel
from organism.workflows.queries import find_run, node_seconds, node_status, phase_durations, recent_runs, report_of
from organism.workflows.start import BrokerUnavailable, CannotResume, resume

runs = Blueprint("runs", __name__)


def run_seconds(run: Run) -> float | None:
    return (run.finished_at - run.created_at).total_seconds() if run.finished_at else None


@runs.get("/")
@runs.get("/runs")
def index() -> str:
    settings = organism().settings
    found = recent_runs(settings.database, limit=50)
    return render_template("runs.html", runs=found, phases={run.id: phase_durations(run) for run in found},
                           run_seconds=run_seconds)


@runs.get("/runs/<ref>")
def show(ref: str) -> str:
    settings = organism().settings
    run = find_run(settings.database, ref)
    if run is None:
        abort(404, f"no run {ref!r}")
    times = {node.name: node_seconds(node) for node in run.nodes}
    seconds = {name: total for name, (total, _) in times.items()}
    statuses = {node.name: node_status(run, node) for node in run.nodes}
    letters = records.dead_of_run(settings.database, run.id)
    report = report_of(settings.database, run.id)
    body = json.dumps(report.body, indent=2, ensure_ascii=False, default=str) if report else None
    history = [(datetime.fromisoformat(e["at"]), e["event"], e["detail"]) for e in run.history or []]
    return render_template("run.html", run=run, dag=layout(run.nodes, seconds, statuses), times=times, report=report,
                           report_body=body, history=history, total=run_seconds(run), statuses=statuses,
                           node_letters=letters, flower=settings.observability.flower_url,
                           finished=RunStatus(run.status).finished, may_resume=run.status == RunStatus.FAILED.value,
                           may_cancel=run.status in CANCELLABLE)


@runs.post("/runs/<ref>/resume")
def resume_run(ref: str) -> Response:
    """Re-run every node of a failed run that did not succeed, reusing the stored results of the others."""
    return _act(ref, "run.resume", "not resumed",
                lambda by: f"run {resume(organism(), ref, by=by).key} resumed: what did not succeed runs again")


@runs.post("/runs/<ref>/cancel")
def cancel_run(ref: str) -> Response:
    """Revoke a run's unfinished nodes; the run ends cancelled."""
    return _act(ref, "run.cancel", "not cancelled", lambda by: str(cancel(organism(), ref, by=by)))


def _act(ref: str, action: str, refused: str, do: Callable[[str], str]) -> Response:
    """Do ``action`` to run ``ref`` as the signed-in operator, in the audit trail; flash what it did, or why not."""
    try:
        with audited_request(action=action, target=f"run {ref}", detail={}) as entry:
            entry.outcome_detail = done = do(f"from the console by {g.operator}")
    except (CannotResume, CannotCancel, BrokerUnavailable) as error:
        flash(f"{refused}: {error}", "error")
    else:
        flash(done, "ok")
    return redirect(url_for(".show", ref=ref))
