"""A failed phase never leaves a run hanging; a failed run resumes without redoing what succeeded."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import redis
from sqlalchemy import update

from organism.failures import dead_letters
from organism.store import session
from organism.store.models import Node, Run, utcnow
from organism.workflows.queries import find_run
from organism.workflows.reconcile import watchdog
from organism.workflows.start import CannotResume, resume, start
from tests.conftest import Cluster
from tests.support.holds import release
from tests.support.noop import FAIL_SYNC, GATE, HANG_SYNC, NOOP_SYNC
from tests.support.services import finished_run, wait_for

pytestmark = pytest.mark.integration


def _errbacks(cluster: Cluster, run_id: str) -> int:
    logs = cluster.workers.log_dir.glob("worker-*.log")
    return sum(log.read_text(errors="replace").count(f"errback: run {run_id}") for log in logs)


def test_a_failed_chord_header_fails_the_run_with_node_and_reason(cluster: Cluster) -> None:
    redis.Redis.from_url(GATE).delete("gate")
    started = start(cluster.app, FAIL_SYNC, {"date": date(2026, 2, 1)})

    run = finished_run(cluster.settings.database, started.run_id, timeout_s=30)

    assert run.status == "failed"
    assert run.error == "q2.gated: PermanentError: gate closed"
    run = wait_for(lambda: _scans_settled(cluster, started.run_id), 20, "the other scans to finish")
    statuses = {n.name: n.status for n in run.nodes}
    assert statuses["q2.gated"] == "failed" and statuses["q1.scan"] == "succeeded"
    assert statuses["synthesis"] == "pending", "the chord body ran despite a failed header"
    wait_for(lambda: _errbacks(cluster, run.id) == 1, 15, "the errback to run once")
    [letter] = dead_letters.find(cluster.settings.database, skill="test.gated_scan")
    assert (letter.run_id, letter.node, letter.reason) == (run.id, "q2.gated", "permanent")


def test_resume_reruns_only_what_did_not_succeed(cluster: Cluster) -> None:
    gate = redis.Redis.from_url(GATE)
    gate.delete("gate")
    started = start(cluster.app, FAIL_SYNC, {"date": date(2026, 2, 2)})
    assert finished_run(cluster.settings.database, started.run_id, timeout_s=30).status == "failed"
    failed = wait_for(lambda: _scans_settled(cluster, started.run_id), 20, "the other scans to finish")
    before = {n.name: (n.task_id, n.attempts) for n in failed.nodes}
    gate.set("gate", "open")

    resume(cluster.app, started.run_id)
    run = finished_run(cluster.settings.database, started.run_id, timeout_s=30)

    assert run.status == "succeeded", run.error
    after = {n.name: (n.task_id, n.attempts) for n in run.nodes}
    for name in ("q1.scan", "q3.scan", "q4.scan"):
        assert after[name] == before[name], f"{name} ran again"
    assert after["q2.gated"][0] != before["q2.gated"][0], "q2.gated was not sent again"
    assert after["q2.gated"][1] == 2, "attempts: the failed and the resumed"
    assert all(after[name][1] == 1 for name in ("synthesis", "eval.a", "eval.b", "store"))
    assert run.generation == 1


def test_resume_refuses_while_nodes_are_at_work(cluster: Cluster) -> None:
    started = start(cluster.app, HANG_SYNC, {"date": date(2026, 2, 4)})
    wait_for(lambda: _node(cluster, started.run_id, "q1.slow") == "running", 20, "the slow scan to start")
    with session(cluster.settings.database) as s:
        s.execute(update(Run).where(Run.id == started.run_id).values(status="failed"))

    with pytest.raises(CannotResume, match=r"still has nodes at work \([^)]*q1\.slow"):
        resume(cluster.app, started.run_id)
    release(cluster.settings, started.run_id)


def _node(cluster: Cluster, run_id: str, name: str) -> str | None:
    run = find_run(cluster.settings.database, run_id)
    return next((n.status for n in run.nodes if n.name == name), None) if run else None


def _scans_settled(cluster: Cluster, run_id: str):  # type: ignore[no-untyped-def]
    run = find_run(cluster.settings.database, run_id)
    scans = [n for n in run.nodes if n.phase == 0] if run else []
    return run if scans and all(n.status in ("succeeded", "failed") for n in scans) else None


def test_the_watchdog_fails_a_run_past_its_deadline(cluster: Cluster) -> None:
    started = start(cluster.app, HANG_SYNC, {"date": date(2026, 2, 3)})
    wait_for(lambda: (r := find_run(cluster.settings.database, started.run_id)) and r.status == "running", 20,
             "the run to start")
    with session(cluster.settings.database) as s:
        s.execute(update(Run).where(Run.id == started.run_id).values(deadline_at=utcnow() - timedelta(seconds=1)))

    watchdog.delay()

    run = finished_run(cluster.settings.database, started.run_id, timeout_s=20)
    assert run.status == "failed"
    assert run.error is not None and "passed; unfinished: " in run.error and run.error.endswith("store")
    release(cluster.settings, started.run_id)


def test_the_watchdog_recovers_successes_whose_bookkeeping_was_lost(cluster: Cluster) -> None:
    """Workers write node rows after Celery has the result; one killed in between loses only the row, which
    the watchdog's next round recovers from the result backend, long before the run's deadline."""
    started = start(cluster.app, NOOP_SYNC, {"date": date(2026, 2, 5)})
    run = finished_run(cluster.settings.database, started.run_id, timeout_s=30)
    assert run.status == "succeeded", run.error
    assert all(n.started_at and n.finished_at and n.started_at <= n.finished_at and n.attempts == 1
               for n in run.nodes), [(n.name, n.started_at, n.finished_at, n.attempts) for n in run.nodes]
    results = {n.name: n.result for n in run.nodes}
    with session(cluster.settings.database) as s:
        s.execute(update(Node).where(Node.run_id == run.id, Node.name.in_(["eval.b", "store"]))
                  .values(status="running", result=None, finished_at=None))
        s.execute(update(Run).where(Run.id == run.id).values(status="running", finished_at=None))

    watchdog.delay()

    run = finished_run(cluster.settings.database, started.run_id, timeout_s=20)
    assert run.status == "succeeded", run.error
    assert {n.name: n.result for n in run.nodes} == results
