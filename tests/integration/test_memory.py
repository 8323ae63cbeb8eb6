"""Long-term memory: a later report recalls an earlier one; with memory down the Daily Sync degrades, not fails."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from organism.workflows.queries import report_of
from organism.workflows.start import start
from tests.conftest import Cluster, daily_sync_on_own_workers
from tests.support.services import finished_run

pytestmark = pytest.mark.integration


def test_a_later_report_recalls_the_themes_an_earlier_one_had(clusters) -> None:  # type: ignore[no-untyped-def]
    cluster: Cluster = clusters["embedded"]
    cluster.clean()
    # The sample's 25 November leads with themes the 24th's report named too (family dinner, on holiday, 夜班).
    first = start(cluster.app, "daily-sync", {"date": date(2026, 11, 24)})
    assert finished_run(cluster.settings.database, first.run_id, 120).status == "succeeded"
    second = start(cluster.app, "daily-sync", {"date": date(2026, 11, 25)})
    run = finished_run(cluster.settings.database, second.run_id, 120)

    earlier = report_of(cluster.settings.database, first.run_id)
    report = report_of(cluster.settings.database, run.id)
    assert earlier is not None and report is not None and not run.degraded
    history = report.body["history"]
    assert history and any(history.values()), history
    for theme, keys in history.items():
        mentioned = theme.lower() in earlier.summary.lower()
        assert keys == (["daily-sync:2026-11-24"] if mentioned else []), (theme, keys)
    assert "(daily-sync:2026-11-24)" in report.summary


def test_with_memory_down_the_daily_sync_finishes_degraded_with_the_reason(services: None, tmp_path: Path) -> None:
    run, settings, _ = daily_sync_on_own_workers(  # nothing listens on port 1
        tmp_path, {"ORGANISM_MEMORY_URL": "postgresql+psycopg://postgres@127.0.0.1:1/memory"})

    assert run.status == "succeeded", run.error
    [line] = run.degraded
    assert line.startswith("store: memory (") and "127.0.0.1" in line and "port 1" in line
    report = report_of(settings.database, run.id)
    assert report is not None and report.body["history"] is None
    assert "memory: unavailable" in report.summary
    assert sorted(report.body["scans"]) == ["q1", "q2", "q3", "q4"]
