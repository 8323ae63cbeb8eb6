"""What a workflow declares: its name, parameters, run key, schedules, deadline and builder.

One :class:`Workflow` per workflow, next to its builder (``tasks/daily_sync.py``)::

    DAILY_SYNC = declare(Workflow(
        name="daily-sync", params=DailySyncParams, key=lambda p: p.date.isoformat(),
        schedules=(Schedule("0 6 * * *", "Asia/Shanghai"),), build=build))

Everything else comes from the declaration: beat's schedule, ``organism run`` and ``organism workflows``, the
console's start form and the run key (``daily-sync:2026-11-23``).
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, get_origin
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from celery.schedules import crontab
from pydantic import BaseModel

from organism.errors import OrganismError


class CatchUp(enum.StrEnum):
    """What a schedule does with firings it missed (beat down, no worker consuming the tick)."""

    ALL = "all"  # every missed firing within the catch-up window, oldest first
    LATEST = "latest"  # only the latest missed firing within the window
    SKIP = "skip"  # none: a firing is started only while it is due


class Overlap(enum.StrEnum):
    """What a firing does while the workflow's previous run is still open."""

    SKIP = "skip"  # the firing's run is recorded as skipped, naming the open run
    ALLOW = "allow"  # the run starts anyway


class DeclarationError(OrganismError):
    """A workflow or schedule is declared wrong; the message names it."""


@dataclass(frozen=True)
class Schedule:
    """A cron expression read in an IANA time zone, with its catch-up and overlap policies.

    The cron has five fields (minute hour day-of-month month day-of-week) as Celery's ``crontab`` reads them.
    Daylight saving time never drops or doubles a firing: a local time that the spring change skips is read with
    the offset before the change, as PEP 495 does (02:30 on that night in Berlin fires at 03:30 summer time), and
    a local time that the autumn change repeats fires once, at its first occurrence.
    """

    cron: str
    zone: str
    catch_up: CatchUp = CatchUp.ALL
    catch_up_window: timedelta = timedelta(days=2)
    overlap: Overlap = Overlap.SKIP

    def __post_init__(self) -> None:
        fields = self.cron.split()
        if len(fields) != 5:
            raise DeclarationError(f"schedule {self.cron!r}: a cron expression has five fields "
                                "(minute hour day-of-month month day-of-week), e.g. '0 6 * * *'")
        try:
            _parse(self.cron)
        except ValueError as error:
            raise DeclarationError(f"schedule {self.cron!r}: {error}") from None
        try:
            ZoneInfo(self.zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise DeclarationError(f"schedule {self.cron!r}: unknown time zone {self.zone!r}; use an IANA name such as "
                                "Europe/Berlin") from None
        if self.catch_up_window <= timedelta(0):
            raise DeclarationError(f"schedule {self.cron!r}: the catch-up window must be positive")

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.zone)

    @property
    def crontab(self) -> crontab:
        return _parse(self.cron)

    @property
    def ident(self) -> str:
        """How the schedule is named in the store and the logs: ``0 6 * * * Asia/Shanghai``."""
        return f"{self.cron} {self.zone}"


@functools.lru_cache(maxsize=256)
def _parse(cron: str) -> crontab:
    """The five fields as Celery's ``crontab`` reads them (by keyword: its positional order differs), parsed once
    per expression: beat asks at every tick. Read only."""
    minute, hour, day_of_month, month_of_year, day_of_week = cron.split()
    return crontab(minute=minute, hour=hour, day_of_month=day_of_month, month_of_year=month_of_year,
                   day_of_week=day_of_week)


@dataclass(frozen=True)
class ParamsContext:
    """What a parameters model may read while it validates (pydantic's ``info.context``).

    Attributes:
        settings: the settings in force.
        schedule: the schedule whose firing starts the run, or the workflow's first schedule, or None.
        today: the date in that schedule's zone (UTC without a schedule) when the run starts.
    """

    settings: Any
    schedule: Schedule | None
    today: date


def fired_on(at: datetime) -> dict[str, Any]:
    """The parameters of a scheduled firing, by default: its local date."""
    return {"date": at.date().isoformat()}


@dataclass(frozen=True)
class Parameter:
    """One parameter as ``organism workflows`` and the console's start form show it.

    Attributes:
        default: its default's repr, or ``derived`` when the parameters model derives it from the others, the
            schedule and the settings.
    """

    name: str
    kind: str
    default: str
    description: str


@dataclass(frozen=True)
class Workflow:
    """A workflow, declared once.

    Attributes:
        name: the first part of its run keys; ``organism run NAME``.
        params: the pydantic model of its parameters, validated (with a :class:`ParamsContext`) before anything is
            written or published.
        key: the run key's second part, from the validated parameters: one run per key, ever.
        build: a pure function ``RunContext -> Plan`` (organism.workflows.plan).
        schedules: when beat starts it; none means only by hand.
        deadline_s: a run still open after this is failed; None means the ``run_deadline_s`` setting.
        on_firing: the raw parameters of a scheduled firing, from its local time.
        description: one line for ``organism workflows`` and the console.
    """

    name: str
    params: type[BaseModel]
    key: Callable[[Any], str]
    build: Callable[..., Any]
    schedules: tuple[Schedule, ...] = ()
    deadline_s: float | None = None
    on_firing: Callable[[datetime], Mapping[str, Any]] = fired_on
    description: str = ""

    @property
    def parameters(self) -> list[Parameter]:
        """Its parameters, in the order the model declares them."""
        return [Parameter(name, str(field.annotation) if get_origin(field.annotation) else
                          getattr(field.annotation, "__name__", str(field.annotation)),
                          "derived" if field.is_required() else repr(field.get_default(call_default_factory=True)),
                          field.description or "")
                for name, field in self.params.model_fields.items()]

    def __post_init__(self) -> None:
        if not self.name or ":" in self.name or not self.name.replace("-", "").isalnum():
            raise DeclarationError(f"workflow name {self.name!r}: use letters, digits and '-' (it starts run keys)")
