"""The Weekly Review without a broker: the week-over-week comparison on hand-made reports, its parameters and its
canvas."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from celery.canvas import _chain

from organism.app import Organism, create_app
from organism.settings import load
from organism.workflows.declaration import Workflow
from organism.workflows.plan import RunContext
from organism.workflows.registry import workflow
from organism.workflows.start import InvalidParameters, parameters
from tasks.analysis import weekly
from tasks.weekly_review import WeeklyReviewParams

MONDAY = date(2026, 12, 7)
THIS = [MONDAY - timedelta(days=6 - i) for i in range(7)]  # 2026-12-01 .. 2026-12-07
BEFORE = [day - timedelta(days=7) for day in THIS]  # 2026-11-24 .. 2026-11-30


def body(**scans: dict[str, float]) -> dict[str, Any]:
    """A Daily Sync report body with these findings per quadrant (theme: score), as the report keeper stores it."""
    return {"key": "daily-sync:…", "synthesis": {"insights": []}, "evaluations": [],
            "scans": {q: {"quadrant": q, "items_scanned": 40,
                          "findings": [{"theme": t, "score": s, "keywords": [t]} for t, s in found.items()]}
                      for q, found in scans.items()}}


def by_theme(review: dict[str, Any], category: str) -> dict[str, dict[str, Any]]:
    return {f"{e['quadrant']}/{e['theme']}": e for e in review[category]}


@pytest.fixture
def review() -> dict[str, Any]:
    """Two weeks of reports: the week before has six (2026-11-26 missing), this week four."""
    usual = {"checkout crash": 3.0, "widget lag": 1.0}
    reports: dict[date, dict[str, Any] | None] = {day: body(q1=usual, q2={"anger": 0.3, "joy": 0.2})
                                                  for day in BEFORE if day != date(2026, 11, 26)}
    reports[BEFORE[0]] = body(q1=usual | {"login loop": 0.5}, q2={"anger": 0.3, "joy": 0.2})
    reports[BEFORE[1]] = body(q1=usual | {"export fails": 2.0}, q2={"anger": 0.3, "joy": 0.2})
    for day in (THIS[0], THIS[3], THIS[5]):  # 12-01, 12-04, 12-06
        reports[day] = body(q1={"login loop": 2.0, "widget lag": 1.2}, q2={"anger": 0.35, "joy": 0.2},
                            q3={"login loop": 4.0})
    reports[THIS[1]] = body(q1={"checkout crash": 1.0, "pricing page": 1.5})  # 12-02
    reports[THIS[2]] = None  # 12-03: said to be missing
    return weekly.compare(MONDAY, 1, reports)


def test_the_reviewed_week_ends_on_the_monday_and_is_compared_with_the_seven_days_before() -> None:
    this, before = weekly.periods(MONDAY)
    assert (this[0], this[-1], before[0], before[-1]) == (date(2026, 12, 1), MONDAY, date(2026, 11, 24),
                                                          date(2026, 11, 30))
    this, before = weekly.periods(MONDAY, weeks=2)
    assert len(this) == len(before) == 14 and (before[0], this[0], this[-1]) == (
        date(2026, 11, 10), date(2026, 11, 24), MONDAY)


def test_a_theme_found_more_this_week_rises_and_one_found_less_falls(review: dict[str, Any]) -> None:
    rising, falling = by_theme(review, "rising"), by_theme(review, "falling")

    login = rising["q1/login loop"]
    assert (login["days"], login["days_before"]) == (3, 1)
    assert login["score"] == pytest.approx(6.0 / 4) and login["score_before"] == pytest.approx(0.5 / 6, abs=1e-4)
    crash = falling["q1/checkout crash"]
    assert (crash["days"], crash["days_before"]) == (1, 6)
    assert crash["score"] == pytest.approx(1.0 / 4) and crash["score_before"] == pytest.approx(3.0)
    assert crash["change"] == pytest.approx(0.08)


def test_a_theme_is_new_gone_or_persistent_within_its_quadrant(review: dict[str, Any]) -> None:
    assert set(by_theme(review, "new")) == {"q3/login loop", "q1/pricing page"}  # q3's login loop is its own theme
    assert set(by_theme(review, "gone")) == {"q1/export fails"}
    persistent = by_theme(review, "persistent")
    assert set(persistent) == {"q1/widget lag", "q2/anger", "q2/joy"}
    # widget lag: 3.6 over this week's 4 reports against 6.0 over the week before's 6; a day without it counts 0
    assert persistent["q1/widget lag"]["score"] == pytest.approx(0.9)


def test_days_without_a_report_are_listed_as_missing_in_both_weeks(review: dict[str, Any]) -> None:
    assert review["period"] == {"from": "2026-12-01", "to": "2026-12-07",
                                "reports": ["2026-12-01", "2026-12-02", "2026-12-04", "2026-12-06"],
                                "missing": ["2026-12-03", "2026-12-05", "2026-12-07"]}
    assert review["before"]["missing"] == ["2026-11-26"]


def test_the_summary_names_what_rose_fell_appeared_and_went_and_the_missing_days(review: dict[str, Any]) -> None:
    lines = weekly.summary(review).splitlines()

    assert lines[0] == ("Weekly review 2026-12-07: daily reports 2026-12-01 to 2026-12-07 against the week before "
                        "(2026-11-24 to 2026-11-30)")
    assert lines[1] == "rising: login loop (pain points, 3 days, was 1; score ×18)"
    assert lines[2] == "falling: checkout crash (pain points, 1 day, was 6; score ×0.08)"
    assert lines[3] == "new: login loop (trends, 3 days); pricing page (pain points, 1 day)"
    assert lines[4] == "gone: export fails (pain points, was 1 day)"
    assert lines[5].startswith("persistent: 3 themes, e.g. widget lag (pain points, 3 days, was 6)")
    assert lines[6] == "3 of 7 daily reports missing: 2026-12-03, 2026-12-05, 2026-12-07"
    assert lines[7] == "the week before: 1 of 7 daily reports missing: 2026-11-26"


def test_a_week_without_reports_before_it_says_there_is_nothing_to_compare_with() -> None:
    review = weekly.compare(MONDAY, 1, {THIS[0]: body(q1={"login loop": 2.0})})

    assert [e["theme"] for e in review["new"]] == ["login loop"]
    summary = weekly.summary(review)
    assert "no daily report in the week before, so every theme found counts as new" in summary
    assert "6 of 7 daily reports missing" in summary and "the week before: 7 of 7 daily reports missing" in summary


def test_the_summary_names_the_five_strongest_of_a_category_and_counts_the_rest() -> None:
    reports = {BEFORE[0]: body(q1={"old": 1.0}),
               THIS[0]: body(q1={f"theme {i}": float(i) for i in range(1, 9)}),
               THIS[1]: body(q1={"theme 8": 8.0})}
    new = weekly.summary(weekly.compare(MONDAY, 1, reports)).splitlines()[3]

    assert new.startswith("new: theme 8 (pain points, 2 days); theme 7 (pain points, 1 day);")
    assert new.endswith("theme 4 (pain points, 1 day); and 3 more")


def test_the_reader_keeps_only_the_themes_and_scores_of_a_report() -> None:
    report = body(q1={"login loop": 2.0}, q4={"home / night": 0.2})
    report["scans"]["q1"]["findings"].append({"theme": "login loop", "score": 2.5})  # the higher score counts

    assert weekly.trimmed(report) == {"scans": {"q1": {"findings": [{"theme": "login loop", "score": 2.5}]},
                                                "q4": {"findings": [{"theme": "home / night", "score": 0.2}]}}}


def _app_and_workflow() -> tuple[Organism, Workflow]:
    app = create_app(load())
    return app, workflow(app, "weekly-review")


def test_a_date_that_is_not_a_monday_is_refused_naming_the_parameter_and_the_monday_before() -> None:
    app, review = _app_and_workflow()

    with pytest.raises(InvalidParameters) as refused:
        parameters(app, review, {"date": "2026-12-09"})
    assert str(refused.value) == ("workflow weekly-review: parameter date: 2026-12-09 is a Wednesday; a weekly "
                                  "review is for a Monday, such as 2026-12-07 (got '2026-12-09')")


def test_the_run_key_names_the_monday_and_the_weeks_when_more_than_one() -> None:
    app, review = _app_and_workflow()

    assert review.key(parameters(app, review, {"date": "2026-12-07"})) == "2026-12-07"
    assert review.key(parameters(app, review, {"date": "2026-12-07", "weeks": 2})) == "2026-12-07/2w"
    by_default = parameters(app, review, {})
    assert isinstance(by_default, WeeklyReviewParams) and by_default.date.weekday() == 0  # the latest Monday
    assert [s.ident for s in review.schedules] == ["0 7 * * 1 Europe/Berlin"]


def test_the_canvas_reads_then_compares_then_stores_on_three_organs_each_with_the_run_errback() -> None:
    app, review = _app_and_workflow()
    params = parameters(app, review, {"date": "2026-12-07"})
    plan = review.build(RunContext(run_id="run-1", key="weekly-review:2026-12-07", params=params,
                                   settings=app.settings))

    assert isinstance(plan.signature, _chain)
    read, compare, store = plan.signature.tasks
    assert [(n.name, n.phase, n.organ) for n in plan.nodes] == [("read", 0, "relationship"),
                                                                 ("compare", 1, "judgment"), ("store", 2, "evolution")]
    assert read.args[0][0] == "2026-11-24" and read.args[0][-1] == "2026-12-07" and len(read.args[0]) == 14
    assert compare.kwargs == {"monday": "2026-12-07", "weeks": 1}
    assert store.kwargs == {"run_id": "run-1", "key": "weekly-review:2026-12-07"}
    for node in (read, compare, store):
        [errback] = node.options["link_error"]
        assert errback["task"] == "organism.run_failed" and errback["kwargs"] == {"run_id": "run-1", "generation": 0}
