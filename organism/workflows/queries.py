"""Reading runs back: by id or key, the latest, phase by phase, their nodes' results and their reports."""

from __future__ import annotations

from typing import Any

from celery import Celery
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from organism.store import session
from organism.store.models import Node, NodeStatus, Report, Run, RunStatus


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
    for nodes in by_phase(run.nodes):
        statuses = {n.status for n in nodes}
        status = next((s for s in ("failed", "retrying", "running", "pending") if s in statuses), "succeeded")
        starts = [n.first_started_at or n.started_at for n in nodes if n.started_at]
        ends = [n.finished_at for n in nodes if n.finished_at]
        seconds = (max(ends) - min(starts)).total_seconds() if starts and len(ends) == len(nodes) else None
        rows.append((nodes[0].phase_name, status, seconds))
    return rows


NOT_RUN = "not run (upstream failed)"


def node_status(run: Run, node: Node) -> str:
    """A node's status as an operator reads it: a pending node of a failed run, behind a phase with a failed
    node, will not run unless the run is resumed or healed; it says so rather than ``pending``."""
    if node.status != NodeStatus.PENDING.value or run.status != RunStatus.FAILED.value:
        return node.status
    upstream_failed = any(n.phase < node.phase and n.status == NodeStatus.FAILED.value for n in run.nodes)
    return NOT_RUN if upstream_failed else node.status


def node_seconds(node: Node) -> tuple[float | None, float | None]:
    """(seconds from its first attempt's start to its finish, seconds of its last attempt), None where unknown.

    A node retried for 14 s whose last attempt took 4 ms reads (14.0, 0.004).
    """
    if node.finished_at is None or node.started_at is None:
        return None, None
    first = node.first_started_at or node.started_at
    return (node.finished_at - first).total_seconds(), (node.finished_at - node.started_at).total_seconds()


def by_phase(nodes: list[Node]) -> list[list[Node]]:
    phases: dict[int, list[Node]] = {}
    for n in nodes:
        phases.setdefault(n.phase, []).append(n)
    return [phases[p] for p in sorted(phases)]


def backend_success(app: Celery, node: Node) -> tuple[bool, Any]:
    """``(True, result)`` when Celery's result backend has the success of a node whose row does not say so."""
    if node.status == NodeStatus.SUCCEEDED.value:
        return False, None
    found = app.AsyncResult(node.task_id)
    return (True, found.result) if found.state == "SUCCESS" else (False, None)


def report_of(url: str, run_id: str) -> Report | None:
    with session(url) as s:
        return s.get(Report, run_id)
