"""Two starts for one date make one run: concurrent callers, and two beat processes."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from organism.store import session
from organism.store.models import Run
from organism.workflows.queries import find_run
from organism.workflows.start import start
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
        results = list(pool.map(lambda _: start(cluster.app, NOOP_SYNC, {"date": day}), range(8)))

    assert sum(r.created for r in results) == 1
    assert len({r.run_id for r in results}) == 1
    assert _runs(cluster, f"{NOOP_SYNC}:{day}") == 1
    run = finished_run(cluster.settings.database, results[0].run_id)
    assert run.status == "succeeded", run.error
    assert [n.attempts for n in run.nodes] == [1] * 8, "a node ran more than once"


def test_two_beat_processes_start_one_run(production: Cluster, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # A schedule whose firing has always passed today: a schedule seen for the first time starts its latest firing,
    # so each beat, ticking every second, may send today's start; the run key makes them one run.
    schedules = json.dumps({"daily-sync": [{"cron": "0 0 * * *", "zone": "UTC"}]})
    env = production.workers.env | {"ORGANISM_SCHEDULES": schedules, "ORGANISM_SCHEDULE_TICK_S": "1"}
    beats = [subprocess.Popen([sys.executable, "-m", "celery", "-A", "organism.app", "beat", "--loglevel", "INFO"],
                              env=env, cwd=ROOT, stdout=(tmp_path / f"beat-{i}.log").open("wb"),
                              stderr=subprocess.STDOUT)
             for i in range(2)]
    key = f"daily-sync:{datetime.now(UTC).date()}"
    try:
        wait_for(lambda: all(b"beat: workflow daily-sync on schedule 0 0 * * * UTC" in
                             (tmp_path / f"beat-{i}.log").read_bytes() for i in range(2)), 30, "both beats to start")
        run = wait_for(lambda: find_run(production.settings.database, key), 30, "the run to be created")
        finished = finished_run(production.settings.database, run.id, timeout_s=120)
        sent = sum((tmp_path / f"beat-{i}.log").read_bytes().count(b"sent the start of firing") for i in range(2))
    finally:
        for beat in beats:
            beat.terminate()
            beat.wait(10)
    assert finished.status == "succeeded", finished.error
    assert sent >= 1
    assert _runs(production, key) == 1
