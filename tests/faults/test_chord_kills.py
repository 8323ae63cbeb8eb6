"""A chord header killed after doing its work, before its ack: the chord body still runs exactly once, after all
four scans, with one result per scan.

Three windows, each on the header's first delivery only:

* ``dies_before_result``: the header does its work, then SIGKILLs its pool process. No result was stored and
  nothing counted; the broker delivers the message again and the second run's result is the one counted.
* ``dies_after_result``: the pool process dies after Celery stored the result and counted it for the chord,
  before the main process acked. The main process sees the stored success and acks instead of requeueing. The
  node's row may die with the process (workers write rows off the critical path): the watchdog, which beat
  sends, records the success from the result backend.
* ``kills_worker_after_result``: the worker's main process dies at that point. Nobody can ack: the broker
  delivers the header again to the restarted worker, which must recognise it as done. Its result text differs
  per delivery (it names the delivery), so counting a re-run would give the body five results, or fire it
  before the slowest scan.

The slowest scan finishes only once the three others have each recorded an execution: a body that started before
it started early.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from organism.store import session
from organism.store.models import Delivery, Run, utcnow
from organism.workflows.start import start
from tests.conftest import Cluster
from tests.faults.conftest import Beat, children, kill_leftovers, wait_past_visibility_timeout
from tests.faults.skills import KILLED_HEADER_SYNC, KILLED_WORKER_SYNC, traces
from tests.support.services import finished_run, wait_for

pytestmark = pytest.mark.integration


def body_and_scans(run: Run) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The chord body's one record (what it saw and when), and every scan execution's record."""
    r = traces()
    joins = [json.loads(j) for j in wait_for(lambda: r.lrange(f"{run.id}:join", 0, -1), 5, "the body's record")]
    assert len(joins) == 1, f"the chord body ran {len(joins)} times"
    return joins[0], [json.loads(s) for s in r.lrange(f"{run.id}:scans", 0, -1)]


def check_body(run: Run, body: dict[str, Any], scans: list[dict[str, Any]]) -> None:
    """The body saw one result per scan node, each from an execution that had finished before the body ran."""
    scan_ids = {n.task_id for n in run.nodes if n.phase == 0}
    seen = [(s["task_id"], s["delivery"]) for s in body["scans"]]
    assert sorted(task_id for task_id, _ in seen) == sorted(scan_ids), seen
    finished = {(s["task_id"], s["delivery"]): s["at"] for s in scans}
    for one in seen:
        assert one in finished and finished[one] <= body["at"], f"the body ran before {one} finished"


def save(artifacts: Path, scenario: str, cluster: Cluster, body: dict[str, Any], scans: list[dict[str, Any]]) -> None:
    with (artifacts / "faults.jsonl").open("a") as out:
        out.write(json.dumps({"test": "killed-header", "scenario": scenario, "profile": cluster.profile,
                              "body_runs": 1, "results_seen": len(body["scans"]),
                              "header_executions": len(scans)}) + "\n")


def test_a_header_whose_pool_process_dies_is_counted_once(faults: Cluster, beat: Beat, artifacts: Path) -> None:
    run = finished_run(faults.settings.database, start(faults.app, KILLED_HEADER_SYNC, {"date": "2026-03-01"}).run_id,
                       timeout_s=40)

    assert run.status == "succeeded", run.error
    body, scans = body_and_scans(run)
    check_body(run, body, scans)
    nodes = {n.name: n for n in run.nodes}
    runs = {name: sorted(s["delivery"] for s in scans if s["task_id"] == node.task_id) for name, node in nodes.items()
            if node.phase == 0}
    assert runs == {"q1.plain": [1], "q2.dies_before_result": [1, 2], "q3.dies_after_result": [1], "q4.slowest": [1]}
    with session(faults.settings.database) as s:
        redelivered = s.get(Delivery, nodes["q2.dies_before_result"].task_id)
        assert redelivered is not None and redelivered.count == 2
    assert (nodes["q2.dies_before_result"].attempts, nodes["q3.dies_after_result"].attempts) == (2, 1)
    acked = f"[{nodes['q3.dies_after_result'].task_id}] succeeded before the worker was lost"
    wait_for(lambda: acked in faults.workers.log_tail("perception", 400), 10,
             "the worker to ack the header whose pool process died after storing its result")
    save(artifacts, "pool process killed before / after the result", faults, body, scans)


def test_a_header_redelivered_after_its_worker_died_is_counted_once(faults: Cluster, beat: Beat,
                                                                   artifacts: Path) -> None:
    process = faults.workers.processes["perception"]
    pool = children(process.pid)
    run_id = start(faults.app, KILLED_WORKER_SYNC, {"date": "2026-03-02"}).run_id
    with session(faults.settings.database) as s:  # the visibility timeout and a restart take most of 15 s
        s.execute(update(Run).where(Run.id == run_id).values(deadline_at=utcnow() + timedelta(seconds=60)))
    wait_for(lambda: process.poll() is not None, 30, "the header to kill its worker")
    try:
        wait_past_visibility_timeout(faults)  # Redis hands a dead consumer's messages out only after it
        faults.workers.start("perception")
        run = finished_run(faults.settings.database, run_id, timeout_s=40)
    finally:
        kill_leftovers(pool)

    assert run.status == "succeeded", run.error
    body, scans = body_and_scans(run)
    check_body(run, body, scans)
    killer = next(n for n in run.nodes if n.name == "q2.kills_worker_after_result")
    assert [s["delivery"] for s in scans if s["task_id"] == killer.task_id] == [1], "the done header ran again"
    skipped = f"[{killer.task_id}] Task already completed successfully"
    wait_for(lambda: skipped in faults.workers.log_tail("perception", 400), 10,
             "the restarted worker to skip the redelivered header as done")
    save(artifacts, "worker main process killed after the result", faults, body, scans)
