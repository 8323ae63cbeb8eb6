"""The Daily Sync end to end, on real worker processes, on each of the three topologies."""

from __future__ import annotations

from datetime import date

import pytest

from organism.workflows.queries import report_of
from organism.workflows.start import start
from tests.conftest import Cluster
from tests.support.services import finished_run

pytestmark = pytest.mark.integration


def test_daily_sync_stores_a_report_with_all_four_scans(cluster: Cluster) -> None:
    started = start(cluster.app, "daily-sync", {"date": date(2026, 11, 23)})
    assert started.created and started.key == "daily-sync:2026-11-23"

    run = finished_run(cluster.settings.database, started.run_id, timeout_s=120)

    assert run.status == "succeeded", run.error
    assert [n.status for n in run.nodes] == ["succeeded"] * 8
    assert {n.organ for n in run.nodes} == {"perception", "relationship", "judgment", "evolution"}
    report = report_of(cluster.settings.database, run.id)
    assert report is not None
    assert sorted(report.body["scans"]) == ["q1", "q2", "q3", "q4"]
    for quadrant, scan in report.body["scans"].items():
        assert scan["items_scanned"] > 300, quadrant
        assert scan["findings"], f"{quadrant} found nothing"
    assert report.body["synthesis"]["insights"]
    assert [e["evaluation"] for e in report.body["evaluations"]] == ["opportunity", "risk"]
    assert "q1:" in report.summary and "q4:" in report.summary
