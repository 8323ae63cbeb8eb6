"""A Daily Sync whose chord state the result backend lost: the watchdog resumes it once, and it completes.

Redis here keeps nothing on disk (DESIGN.md), so a Redis restart between a run's start and its scans' returns
loses the chord's size, which its start wrote: the scans succeed and are stored, their results are counted
against a chord of unknown size, and the synthesis is never sent. The tests make that happen every time: the
perception worker stops taking messages, the run starts, the result database is flushed (what the restart
does to it), and the worker takes its scans again.

Beat runs as in a deployment, sending the watchdog every 2 s; runs have a 30 s deadline (15 s on the Redis
profile) and ``stall_grace`` of 0.2, so the watchdog resumes a stalled run 6 s (3 s) after its last node finished.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
import redis

from organism.store.models import Run
from organism.workflows.queries import find_run, report_of
from organism.workflows.start import STARTED, WATCHDOG_FAILED, WATCHDOG_RESUMED, start
from tests.conftest import Cluster
from tests.faults.conftest import Beat
from tests.observability.servers import AUTH, accounts, serving
from tests.support.services import ROOT, finished_run, wait_for

pytestmark = pytest.mark.integration

SLACK_S = 15  # on top of the run's deadline and two watchdog intervals, for a loaded machine
ORGANISM = str(Path(sys.executable).with_name("organism"))


def consume(cluster: Cluster, organ: str, on: bool) -> None:
    """Make ``organ``'s worker start or stop taking messages from its queue (Celery's remote control)."""
    control = cluster.app.control
    command = control.add_consumer if on else control.cancel_consumer
    replies = command(organ, destination=[f"{organ}@{os.uname().nodename}"], reply=True, timeout=10)
    assert replies, f"the {organ} worker did not answer {command.__name__}"


def lose_chord_state(cluster: Cluster) -> None:
    redis.Redis.from_url(cluster.settings.results).flushdb()


def scans_succeeded(cluster: Cluster, run_id: str) -> Run | None:
    run = find_run(cluster.settings.database, run_id)
    scans = [n for n in run.nodes if n.phase == 0] if run else []
    return run if scans and all(n.status == "succeeded" for n in scans) else None


def stalled_daily_sync(cluster: Cluster, day: date) -> tuple[str, dict[str, tuple[str, int]]]:
    """Start a Daily Sync and lose its first chord's state; return its id and its scans' (task id, attempts)
    once all four have succeeded."""
    consume(cluster, "perception", on=False)
    try:
        run_id = start(cluster.app, "daily-sync", {"date": day}).run_id
        lose_chord_state(cluster)
    finally:
        consume(cluster, "perception", on=True)
    run = wait_for(lambda: scans_succeeded(cluster, run_id), 30, "the four scans to succeed")
    return run_id, {n.name: (n.task_id, n.attempts) for n in run.nodes if n.phase == 0}


def finish_within_s(cluster: Cluster) -> float:
    return cluster.settings.run_deadline_s + 2 * cluster.settings.watchdog_interval_s + SLACK_S


def organism(*args: str, env: dict[str, str]) -> str:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ORGANISM_")}
    done = subprocess.run([ORGANISM, *args], env=clean | env | {"PYTHONPATH": str(ROOT)}, cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_run_whose_chord_state_was_lost_is_resumed_once_and_completes(
        faults: Cluster, beat: Beat, tmp_path: Path) -> None:
    url = faults.settings.database
    run_id, scans = stalled_daily_sync(faults, date(2026, 5, 1))

    run = finished_run(url, run_id, finish_within_s(faults))

    assert run.status == "succeeded", run.error
    report = report_of(url, run_id)
    assert report is not None and sorted(report.body["scans"]) == ["q1", "q2", "q3", "q4"]
    assert [e["event"] for e in run.history] == [STARTED, WATCHDOG_RESUMED]
    assert run.history[0]["detail"] == "by hand"
    assert run.history[1]["detail"].startswith("perception had finished and synthesis had not started for ")
    assert run.history[1]["detail"].endswith("sent again: synthesis, eval.opportunity, eval.risk, store")
    assert run.generation == 1
    assert {n.name: (n.task_id, n.attempts) for n in run.nodes if n.phase == 0} == scans, "a scan ran again"
    assert all(n.attempts == 1 for n in run.nodes if n.phase > 0), [(n.name, n.attempts) for n in run.nodes]

    shown = organism("runs", "show", run_id, env=faults.env)
    assert f"{WATCHDOG_RESUMED}: perception had finished and synthesis had not started" in shown
    with serving("console", accounts(faults.env), tmp_path / "console.log", probe="/healthz") as console:
        page = console.get(f"/runs/{run_id}", auth=AUTH)
    assert page.status_code == 200
    assert 'id="history"' in page.text and WATCHDOG_RESUMED in page.text


@pytest.mark.parametrize("faults", ["production"], indirect=True)
def test_a_run_still_stuck_after_its_resume_fails_at_its_deadline_saying_so(faults: Cluster, beat: Beat) -> None:
    """With no relationship worker taking messages, the resumed run's synthesis never starts either: the watchdog
    does not resume it a second time, and fails it at its deadline."""
    consume(faults, "relationship", on=False)
    try:
        run_id, _ = stalled_daily_sync(faults, date(2026, 5, 2))
        run = finished_run(faults.settings.database, run_id, finish_within_s(faults))
    finally:
        faults.app.control.purge()  # the resumed synthesis, which would otherwise run into the next test
        consume(faults, "relationship", on=True)

    assert run.status == "failed"
    assert [e["event"] for e in run.history] == [STARTED, WATCHDOG_RESUMED, WATCHDOG_FAILED]
    assert run.error is not None
    assert "unfinished: synthesis, eval.opportunity, eval.risk, store" in run.error
    assert f"the watchdog had resumed it once, at {run.history[1]['at']}" in run.error
    assert run.history[2]["detail"] == run.error
