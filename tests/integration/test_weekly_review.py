"""The Weekly Review end to end, on real worker processes, on each of the three topologies.

The reviewed week holds one real Daily Sync (2026-12-02, run by the same workers) and three hand-made daily
reports; the week before holds six hand-made ones. The hand-made reports are written straight into the store, as
the Daily Sync's store step would (a run row and its report), so that what rose and fell is known exactly.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import pytest

from organism import store
from organism.store.models import Report, Run, utcnow
from organism.workflows.queries import report_of
from organism.workflows.start import start
from tests.conftest import Cluster
from tests.integration.test_cli import organism
from tests.support.services import ROOT, finished_run

pytestmark = pytest.mark.integration

USUAL = {"checkout crash": 3.0, "widget lag": 1.0}
BEFORE = {date(2026, 11, 24): USUAL | {"login loop": 0.5}, date(2026, 11, 25): USUAL | {"export fails": 2.0},
          **{date(2026, 11, day): USUAL for day in (27, 28, 29, 30)}}  # 2026-11-26 has no report
THIS = {date(2026, 12, 1): {"login loop": 2.0, "widget lag": 1.2, "checkout crash": 1.0},
        **{date(2026, 12, day): {"login loop": 2.0, "widget lag": 1.2} for day in (4, 6)}}


def keep_daily_report(url: str, day: date, pain_points: dict[str, float]) -> None:
    """A succeeded Daily Sync run for ``day`` and its report, whose pain-point scan found ``pain_points``."""
    run_id = str(uuid.uuid4())
    findings = [{"theme": theme, "score": score, "keywords": theme.split()} for theme, score in pain_points.items()]
    body = {"key": f"daily-sync:{day}", "scans": {"q1": {"quadrant": "q1", "items_scanned": 50, "findings": findings}},
            "synthesis": {"insights": []}, "evaluations": []}
    with store.session(url) as s:
        s.add(Run(id=run_id, key=f"daily-sync:{day}", workflow="daily-sync", status="succeeded",
                  params={"date": day.isoformat()}, finished_at=utcnow()))
        s.flush()
        s.add(Report(run_id=run_id, summary=f"Daily Sync {day}", body=body))


def names(entries: list[dict[str, Any]]) -> list[str]:
    return [f"{e['quadrant']}/{e['theme']}" for e in entries]


def test_the_weekly_review_compares_the_week_of_daily_reports_with_the_week_before(cluster: Cluster) -> None:
    url = cluster.settings.database
    daily = start(cluster.app, "daily-sync", {"date": date(2026, 12, 2)})
    for day, pain_points in (BEFORE | THIS).items():
        keep_daily_report(url, day, pain_points)
    assert finished_run(url, daily.run_id, timeout_s=120).status == "succeeded"
    real = report_of(url, daily.run_id)
    assert real is not None
    real_q1 = real.body["scans"]["q1"]["findings"][0]["theme"]

    review = start(cluster.app, "weekly-review", {"date": "2026-12-07"})
    first = start(cluster.app, "weekly-review", {"date": "2026-11-30"})  # its week before has no report at all
    assert review.created and review.key == "weekly-review:2026-12-07"
    run = finished_run(url, review.run_id, timeout_s=60)

    assert run.status == "succeeded", run.error
    assert [(n.name, n.organ) for n in run.nodes] == [("read", "relationship"), ("compare", "judgment"),
                                                      ("store", "evolution")]
    assert {n.status for n in run.nodes} == {"succeeded"}
    report = report_of(url, run.id)
    assert report is not None
    body = report.body
    assert body["key"] == "weekly-review:2026-12-07"
    assert names(body["rising"]) == ["q1/login loop"] and names(body["falling"]) == ["q1/checkout crash"]
    assert names(body["gone"]) == ["q1/export fails"] and "q1/widget lag" in names(body["persistent"])
    assert f"q1/{real_q1}" in names(body["new"])  # read from the report the real Daily Sync stored
    assert body["period"]["reports"] == ["2026-12-01", "2026-12-02", "2026-12-04", "2026-12-06"]
    assert body["period"]["missing"] == ["2026-12-03", "2026-12-05", "2026-12-07"]
    assert body["before"]["missing"] == ["2026-11-26"]
    lines = report.summary.splitlines()
    assert lines[0].startswith("Weekly review 2026-12-07: daily reports 2026-12-01 to 2026-12-07")
    assert lines[1] == "rising: login loop (pain points, 3 days, was 1; score ×18)"
    assert lines[2] == "falling: checkout crash (pain points, 1 day, was 6; score ×0.08)"
    assert "3 of 7 daily reports missing: 2026-12-03, 2026-12-05, 2026-12-07" in lines
    assert "the week before: 1 of 7 daily reports missing: 2026-11-26" in lines

    again = start(cluster.app, "weekly-review", {"date": "2026-12-07"})
    assert (again.created, again.run_id) == (False, review.run_id)
    earlier = report_of(url, finished_run(url, first.run_id, timeout_s=60).id)
    assert earlier is not None
    assert "no daily report in the week before, so every theme found counts as new" in earlier.summary
    assert "the week before: 7 of 7 daily reports missing" in earlier.summary
    assert names(earlier.body["new"])[:2] == ["q1/checkout crash", "q1/widget lag"]

    listed = organism("runs", env=cluster.env | {"PYTHONPATH": str(ROOT), "COLUMNS": "250"})
    assert listed.returncode == 0, listed.stderr
    row = next(line for line in listed.stdout.splitlines() if "weekly-review:2026-12-07" in line)
    assert "succeeded" in row and "read" in row and "compare" in row and "store" in row
