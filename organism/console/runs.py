"""Runs: the list, and one run's DAG with node status, durations, degraded and failed reasons, its history and its
report."""

from __future__ import annotations

import json
from datetime import datetime

from flask import Blueprint, abort, render_template

from organism.console.context import organism
from organism.console.dag import layout
from organism.store.models import Node, Run
from organism.workflows.queries import find_run, phase_durations, recent_runs, report_of

runs = Blueprint("runs", __name__)


def node_seconds(node: Node) -> float | None:
    if node.started_at is None or node.finished_at is None:
        return None
    return (node.finished_at - node.started_at).total_seconds()


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
    seconds = {node.name: node_seconds(node) for node in run.nodes}
    report = report_of(settings.database, run.id)
    body = json.dumps(report.body, indent=2, ensure_ascii=False, default=str) if report else None
    history = [(datetime.fromisoformat(e["at"]), e["event"], e["detail"]) for e in run.history or []]
    return render_template("run.html", run=run, dag=layout(run.nodes, seconds), seconds=seconds, report=report,
                           report_body=body, history=history, total=run_seconds(run),
                           flower=settings.observability.flower_url, finished=run.status in ("succeeded", "failed"))
