"""Reading runs back: by id or key, the latest, phase by phase, their nodes' results and their reports."""

from __future__ import annotations

from typing import Any

from celery import Celery
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from organism.store import session
from organism.store.models import Node, NodeStatus, Report, Run


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
        starts = [n.started_at for n in nodes if n.started_at]
        ends = [n.finished_at for n in nodes if n.finished_at]
        seconds = (max(ends) - min(starts)).total_seconds() if starts and len(ends) == len(nodes) else None
        rows.append((nodes[0].phase_name, status, seconds))
    return rows


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
