"""The Daily Sync: four scans in parallel → synthesis → two evaluations in parallel → store.

Declared once (:data:`DAILY_SYNC`): its parameters are the date, the window of publication times it reads (by
default the 24 hours that end at its scheduled time on that date, in the schedule's zone), the sources, and how
many earlier windows the trend scan compares with. They reach the skills as arguments of the canvas.

Built by a pure function: it returns the canvas and the nodes to track, and touches nothing. Chord headers are
single tasks and bodies single tasks (nested canvases are where Celery's chords hang).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from celery import chain, chord
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from organism.workflows.declaration import ParamsContext, Schedule, Workflow
from organism.workflows.plan import Plan, RunContext, handed_on
from organism.workflows.registry import declare
from tasks import evolution, judgment, perception, relationship
from tasks.analysis.sources import SourceError, Window, absolute, check_sources
from tasks.samples import SAMPLE_SOURCES

NAME = "daily-sync"
PHASES = ("perception", "synthesis", "judgment", "store")
SCANS = {
    "q1.pain_points": perception.pain_scanner,
    "q2.emotions": perception.emotion_scanner,
    "q3.trends": perception.trend_scanner,
    "q4.scenes": perception.scene_scanner,
}
EVALUATIONS = {"eval.opportunity": judgment.opportunity_evaluator, "eval.risk": judgment.risk_evaluator}
WINDOW_END = dt.time(6, 0)  # without a schedule, windows end at 06:00 in the `timezone` setting
_DATE = TypeAdapter(dt.date)


class DailySyncParams(BaseModel):
    """The Daily Sync's parameters; those left out are derived from the date, the schedule and the settings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    date: dt.date = Field(description="The day the sync is for (default: today in the schedule's zone).")
    window_hours: int = Field(24, ge=1, le=24 * 31, description="Length of the window the scans read.")
    window_end: AwareDatetime = Field(description="End of the window (default: the scheduled time on the date).")
    sources: tuple[str, ...] = Field(min_length=1, description="Files or URLs to read (default: the `sources` "
                                     "setting, else the shipped samples); comma-separated on the command line.")
    history: int = Field(3, ge=1, le=52, description="Windows before this one that the trend scan compares with.")

    @model_validator(mode="before")
    @classmethod
    def _derive(cls, raw: Any, info: ValidationInfo) -> Any:
        context = info.context
        if not isinstance(raw, dict) or not isinstance(context, ParamsContext):
            return raw
        raw = dict(raw)
        raw.setdefault("date", context.today)
        if "window_end" not in raw:
            raw["window_end"] = _scheduled_end(_day(raw["date"]), context)
        raw.setdefault("sources", context.settings.sources or SAMPLE_SOURCES)
        return raw

    @field_validator("sources", mode="before")
    @classmethod
    def _listed(cls, value: Any) -> Any:
        """A comma-separated string (``--param sources=a.jsonl,b.xml``) is a list; relative paths are made
        absolute here, where the run starts, so that a worker started elsewhere reads the same files."""
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, list | tuple) and all(isinstance(s, str) for s in value):
            return tuple(map(absolute, value))
        return value

    @field_validator("sources")
    @classmethod
    def _readable(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        try:
            check_sources(list(value))
        except SourceError as error:
            raise ValueError(str(error)) from None
        return value

    @property
    def window(self) -> Window:
        return Window(start=self.window_end - dt.timedelta(hours=self.window_hours), end=self.window_end)


def _day(value: Any) -> dt.date:
    """The ``date`` parameter read before the window's end is derived from it; a wrong one is reported under the
    parameter's name (an error of a model validator has none)."""
    try:
        return _DATE.validate_python(value)
    except ValidationError as error:
        problems: list[Any] = [{"type": e["type"], "loc": ("date", *e["loc"]), "input": e["input"],
                                **({"ctx": e["ctx"]} if "ctx" in e else {})} for e in error.errors()]
        raise ValidationError.from_exception_data(DailySyncParams.__name__, problems) from None


def _scheduled_end(day: dt.date, context: ParamsContext) -> dt.datetime:
    """``day`` at the schedule's time in its zone (its first hour and minute), or 06:00 in the settings' zone."""
    schedule: Schedule | None = context.schedule
    if schedule is None:
        return dt.datetime.combine(day, WINDOW_END, tzinfo=context.settings.zone)
    cron = schedule.crontab
    return dt.datetime.combine(day, dt.time(min(cron.hour), min(cron.minute)), tzinfo=schedule.tz)


def shape(ctx: RunContext, scans: dict[str, Any], synthesis: Any, evaluations: dict[str, Any],
          store: Any) -> Plan:
    """The Daily Sync's DAG over any skills of the right arity (the benchmarks use no-op ones).

    The store step receives ``[*evaluations, synthesis]``: the synthesis, which carries the scans it joined, is
    handed on beside the evaluations.
    """
    params: DailySyncParams = ctx.params  # type: ignore[assignment]
    plan, sources, window = Plan(), list(params.sources), params.window.as_json()
    extra = {"q3.trends": {"history": params.history}}
    headers = [plan.node(ctx, skill.s(sources, window, **extra.get(name, {})), name, 0, PHASES[0])
               for name, skill in scans.items()]
    join = plan.node(ctx, synthesis.s(), "synthesis", 1, PHASES[1])
    judged = [plan.node(ctx, skill.s(), name, 2, PHASES[2]) for name, skill in evaluations.items()]
    keep = plan.node(ctx, store.s(run_id=ctx.run_id, key=ctx.key, window=window), "store", 3, PHASES[3])
    for body in (join, keep):
        body.link_error(plan.errback(ctx))
    plan.signature = chain(chord(headers, join), chord([*judged, handed_on(store.skill.organ)], keep))
    return plan


def build(ctx: RunContext) -> Plan:
    """The Daily Sync canvas for one run."""
    return shape(ctx, SCANS, relationship.cross_quadrant_synthesis, EVALUATIONS, evolution.report_keeper)


DAILY_SYNC = declare(Workflow(
    name=NAME, params=DailySyncParams, key=lambda params: params.date.isoformat(), build=build,
    schedules=(Schedule("0 6 * * *", "Asia/Shanghai"),),
    description="Four perception scans of a day's posts → synthesis → two evaluations → the report"))
