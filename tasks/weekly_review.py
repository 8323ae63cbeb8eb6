"""The Weekly Review: the past week's Daily Sync reports against the week before → its own report.

Declared once (:data:`WEEKLY_REVIEW`), Mondays at 07:00 in Europe/Berlin. Its parameters are the Monday it is for
and how many weeks each compared period spans. Three skills on three organs, one after the other: the
relationship organ reads the daily reports from the store (read-only), the judgment organ compares the two
periods' themes (:mod:`tasks.analysis.weekly`), and the evolution organ keeps the review as the run's report.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from celery import chain
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from organism.skill import skill
from organism.workflows import reports
from organism.workflows.declaration import ParamsContext, Schedule, Workflow
from organism.workflows.plan import Plan, RunContext
from organism.workflows.registry import declare
from tasks import daily_sync
from tasks.analysis import weekly

NAME = "weekly-review"


class WeeklyReviewParams(BaseModel):
    """The Weekly Review's parameters."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    date: dt.date = Field(description="The Monday the review is for: it reads the daily reports of the days that "
                                      "end on it (default: the latest Monday, today included).")
    weeks: int = Field(1, ge=1, le=8, description="Weeks in each compared period: the latest against as many "
                                                  "before them.")

    @model_validator(mode="before")
    @classmethod
    def _derive(cls, raw: Any, info: ValidationInfo) -> Any:
        if isinstance(raw, dict) and isinstance(info.context, ParamsContext) and "date" not in raw:
            today = info.context.today
            return {**raw, "date": today - dt.timedelta(days=today.weekday())}
        return raw

    @field_validator("date")
    @classmethod
    def _monday(cls, value: dt.date) -> dt.date:
        if value.weekday():
            raise ValueError(f"{value} is a {value:%A}; a weekly review is for a Monday, such as "
                             f"{value - dt.timedelta(days=value.weekday())}")
        return value


def run_key(params: WeeklyReviewParams) -> str:
    """``2026-12-07`` for one week's review, ``2026-12-07/2w`` for one of two weeks."""
    return params.date.isoformat() + (f"/{params.weeks}w" if params.weeks != 1 else "")


@skill(organ="relationship", effect="read-only")
def daily_reports(days: list[dt.date]) -> dict[str, Any]:
    """Read the Daily Sync reports of ``days`` from the store: their themes by date, None for a day without one."""
    kept = reports.by_keys(f"{daily_sync.NAME}:{day.isoformat()}" for day in days)
    found = {report.key.partition(":")[2]: weekly.trimmed(report.body) for report in kept.values()}
    return {day.isoformat(): found.get(day.isoformat()) for day in days}


@skill(organ="judgment", effect="read-only")
def week_over_week(days: dict[dt.date, dict[str, Any] | None], monday: dt.date, weeks: int) -> dict[str, Any]:
    """Compare the themes of the reviewed weeks' daily reports with those of the weeks before."""
    return weekly.compare(monday, weeks, days)


@skill(organ="evolution", effect="idempotent")
def review_keeper(review: dict[str, Any], run_id: str, key: str) -> dict[str, Any]:
    """Store the review as the run's report, with a summary a product team can read at a glance."""
    summary = weekly.summary(review)
    reports.keep(run_id, summary, {"key": key, **review})
    return {"run_id": run_id, "stored_in": "organism_reports", "summary": summary}


def build(ctx: RunContext) -> Plan:
    """Read → compare → store, each node with the run's errback."""
    params: WeeklyReviewParams = ctx.params  # type: ignore[assignment]
    plan = Plan()
    this, before = weekly.periods(params.date, params.weeks)
    nodes = [plan.node(ctx, daily_reports.s([day.isoformat() for day in before + this]), "read", 0, "read"),
             plan.node(ctx, week_over_week.s(monday=params.date.isoformat(), weeks=params.weeks), "compare", 1,
                       "compare"),
             plan.node(ctx, review_keeper.s(run_id=ctx.run_id, key=ctx.key), "store", 2, "store")]
    for node in nodes:  # in a chain, a failed task calls its own errbacks only
        node.link_error(plan.errback(ctx))
    plan.signature = chain(*nodes)
    return plan


WEEKLY_REVIEW = declare(Workflow(
    name=NAME, params=WeeklyReviewParams, key=run_key, build=build,
    schedules=(Schedule("0 7 * * 1", "Europe/Berlin"),),
    description="The past week's Daily Sync reports against the week before: rising, falling, new and gone themes"))
