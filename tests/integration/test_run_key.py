"""Two starts for one date make one run: concurrent callers, and two beat processes."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pytest
from sqlalchemy import func, select

from organism.store import session
from organism.store.models import Run
from organism.workflows.runs import find_run, start, today
from tests.conftest import Cluster
from tests.support.noop import NOOP_SYNC
from tests.support.services import ROOT, finished_run, wait_for

pytestmark = pytest.mark.integration


def _runs(cluster: Cluster, key: str) -> int:
    with session(cluster.settings.database) as s:
        return s.scalar(select(func.count()).select_from(Run).where(Run.key == key)) or 0


def test_concurrent_starts_for_one_date_make_one_run(cluster: Cluster) -> None:
    day = date(2026, 1, 5)
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: start(cluster.app, NOOP_SYNC, day), range(8)))

    assert sum(r.created for r in results) == 1
    assert len({r.run_id for r in results}) == 1
    assert _runs(cluster, f"{NOOP_SYNC}:{day}") == 1
    run = finished_run(cluster.settings.database, results[0].run_id)
    assert run.status == "succeeded", run.error
    assert [n.attempts for n in run.nodes] == [1] * 8, "a node ran more than once"


def test_two_beat_processes_start_one_run(production: Cluster, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # A sync hour that has always passed: each beat catches up at start-up, so both send today's start.
    env = production.workers.env | {"ORGANISM_DAILY_SYNC_HOUR": "0", "ORGANISM_DAILY_SYNC_MINUTE": "0"}
    beats = [subprocess.Popen([sys.executable, "-m", "celery", "-A", "organism.app", "beat", "--loglevel", "INFO",
                               "-s", str(tmp_path / f"schedule-{i}")], env=env, cwd=ROOT,
                              stdout=(tmp_path / f"beat-{i}.log").open("wb"), stderr=subprocess.STDOUT)
             for i in range(2)]
    key = f"daily-sync:{today(production.settings)}"
    log = production.workers.log_dir / "worker-perception.log"
    starts_before = _starts_handled(log)
    try:
        for i in range(2):
            wait_for(lambda i=i: b"sending today's start" in (tmp_path / f"beat-{i}.log").read_bytes(), 30,
                     f"beat {i} to send today's start")
        run = wait_for(lambda: find_run(production.settings.database, key), 30, "the run to be created")
        finished = finished_run(production.settings.database, run.id, timeout_s=120)
        wait_for(lambda: _starts_handled(log) - starts_before >= 2, 30, "the workers to handle both starts")
    finally:
        for beat in beats:
            beat.terminate()
            beat.wait(10)
    assert finished.status == "succeeded", finished.error
    assert _runs(production, key) == 1


def _starts_handled(log) -> int:  # type: ignore[no-untyped-def]
    return sum("organism.start_workflow[" in line and "succeeded" in line
               for line in log.read_text(errors="replace").splitlines())
