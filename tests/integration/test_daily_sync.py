"""The Daily Sync end to end, on real worker processes, on each of the three topologies: its date and window
reach the scans, so two dates analyse two different sets of posts."""

from __future__ import annotations

from typing import Any

import pytest

from organism.workflows.queries import report_of
from organism.workflows.start import start
from tests.conftest import Cluster
from tests.support.services import finished_run

pytestmark = pytest.mark.integration


def _report(cluster: Cluster, run_id: str) -> dict[str, Any]:
    run = finished_run(cluster.settings.database, run_id, timeout_s=120)
    assert run.status == "succeeded", run.error
    assert [n.status for n in run.nodes] == ["succeeded"] * 8
    assert {n.organ for n in run.nodes} == {"perception", "relationship", "judgment", "evolution"}
    report = report_of(cluster.settings.database, run.id)
    assert report is not None
    return {**report.body, "summary": report.summary}


def _cited(report: dict[str, Any]) -> set[str]:
    return {post for scan in report["scans"].values() for f in scan["findings"] for post in f["examples"]}


def test_two_dates_analyse_the_posts_of_their_own_windows(cluster: Cluster) -> None:
    late = start(cluster.app, "daily-sync", {"date": "2026-12-08"})
    early = start(cluster.app, "daily-sync", {"date": "2026-11-12", "window_hours": 48})
    assert late.created and late.key == "daily-sync:2026-12-08" and early.key == "daily-sync:2026-11-12"

    reports = {"late": _report(cluster, late.run_id), "early": _report(cluster, early.run_id)}

    # The windows end at the schedule's 06:00 in Asia/Shanghai on each date, and last window_hours.
    assert reports["late"]["window"] == {"start": "2026-12-07T06:00:00+08:00", "end": "2026-12-08T06:00:00+08:00"}
    assert reports["early"]["window"] == {"start": "2026-11-10T06:00:00+08:00", "end": "2026-11-12T06:00:00+08:00"}
    for name, report in reports.items():
        assert sorted(report["scans"]) == ["q1", "q2", "q3", "q4"]
        for quadrant, scan in report["scans"].items():
            assert scan["window"]["end"] == report["window"]["end"], (name, quadrant)
            assert 0 < scan["items_scanned"] < 200, (name, quadrant)  # a window's posts, not the whole sample
            assert scan["undated"] > 0 and scan["outside"] > 500, (name, quadrant)  # counted, not scanned
        assert report["scans"]["q1"]["findings"], f"{name}: q1 found nothing"
        assert [e["evaluation"] for e in report["evaluations"]] == ["opportunity", "risk"]
        assert "q1:" in report["summary"] and "without a date" in report["summary"]
    assert reports["early"]["scans"]["q1"]["items_scanned"] > reports["late"]["scans"]["q1"]["items_scanned"] / 2
    assert not _cited(reports["late"]) & _cited(reports["early"]), "two windows cited the same posts"
    # The trend scan compares the window with the windows before it, from the same sources.
    assert reports["late"]["scans"]["q3"]["window"]["baseline"]["end"] == reports["late"]["window"]["start"]
