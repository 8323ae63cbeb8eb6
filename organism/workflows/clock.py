"""Beat's side of the schedules: every ``schedule_tick_s`` it sends the start of each workflow firing that is due.

Which firings are due comes from :mod:`.schedules`; the newest firing each schedule has handled is kept in the
store (``organism_schedule_marks``), so a beat that was down knows which firings it missed, and the catch-up
policy decides which of them still start. The run key makes every start idempotent: two beats, a redelivered
start message or a start by hand for the same firing make one run. Beat keeps no state of its own (no shelve
file): :class:`Beat` is Celery's in-memory scheduler plus this clock.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from celery import Celery
from celery.beat import Scheduler
from sqlalchemy import select

from organism.priorities import NUMBERS, Priority
from organism.settings import Settings
from organism.store import session
from organism.store.models import ScheduleMark, utcnow
from organism.workflows import registry
from organism.workflows.declaration import Schedule, Workflow
from organism.workflows.schedules import due
from organism.workflows.start import InvalidParameters, parameters

logger = logging.getLogger(__name__)
START_TASK = "organism.start_workflow"


@dataclass(frozen=True)
class Firing:
    workflow: str
    schedule: str  # Schedule.ident
    at: datetime  # local time in the schedule's zone
    params: dict[str, Any]

    def message(self) -> dict[str, Any]:
        """The keyword arguments of its ``organism.start_workflow`` message."""
        return {"name": self.workflow, "params": self.params, "schedule": self.schedule,
                "fired_at": self.at.isoformat()}


Send = Callable[[Firing], None]


def sender(app: Celery) -> Send:
    """Send a firing's start message to the app's broker, on the first organ's queue (which beat's watchdogs
    also use), ahead of every call that waits there (``critical``)."""
    settings: Settings = app.settings
    queue = settings.organs[0]

    def send(firing: Firing) -> None:
        app.send_task(START_TASK, kwargs=firing.message(), queue=queue, routing_key=queue,
                      priority=NUMBERS[Priority.CRITICAL])

    return send


def tick(app: Celery, now: datetime, send: Send) -> list[Firing]:
    """Send the start of every firing due at ``now``, move each schedule's mark, and return what was sent.

    A firing whose send fails stops its schedule at the firing before it: the next tick sends it again.
    """
    settings: Settings = app.settings
    on_time = timedelta(seconds=2 * settings.schedule_tick_s)
    with session(settings.database) as s:
        marks = {(m.workflow, m.schedule): _aware(m.fired_at) for m in s.scalars(select(ScheduleMark))}
    sent: list[Firing] = []
    for workflow in registry.workflows(app):
        for schedule in registry.schedules(workflow, settings):
            last = marks.get((workflow.name, schedule.ident))
            plan = due(schedule, last, now, on_time)
            for at in plan.missed:
                logger.warning("workflow %s: firing %s of schedule %s missed (catch-up %s, window %s); not started",
                               workflow.name, at.isoformat(), schedule.ident, schedule.catch_up.value,
                               schedule.catch_up_window)
            handled = last
            for at in plan.start:
                firing = _firing(workflow, schedule, at)
                try:  # refused here, in one line, rather than published to be refused by a worker
                    parameters(app, workflow, firing.params, schedule)
                except InvalidParameters as error:
                    logger.error("%s: firing %s not started: %s", workflow.name, at.isoformat(), error)
                    handled = at
                    continue
                try:
                    send(firing)
                except Exception as error:
                    logger.error("workflow %s: could not send the start of firing %s (%s: %s); the next tick tries "
                                 "again", workflow.name, at.isoformat(), type(error).__name__, error)
                    break
                logger.info("workflow %s: sent the start of firing %s (schedule %s)", workflow.name,
                            at.isoformat(), schedule.ident)
                sent.append(firing)
                handled = at
            else:
                handled = plan.handled
            # Compared in UTC: Python never finds a local time in a DST gap or fold equal to a time in another zone.
            if handled is not None and (last is None or handled.astimezone(UTC) != last):
                _mark(settings.database, workflow.name, schedule.ident, handled)
    return sent


def _firing(workflow: Workflow, schedule: Schedule, at: datetime) -> Firing:
    return Firing(workflow.name, schedule.ident, at, dict(workflow.on_firing(at)))


def _aware(at: datetime) -> datetime:
    # SQLite hands datetimes back without their zone; they were stored in UTC.
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


def _mark(url: str, workflow: str, schedule: str, fired_at: datetime) -> None:
    fired_at = fired_at.astimezone(UTC)  # SQLite keeps no offset: a local time would be read back as UTC
    with session(url) as s:
        mark = s.get(ScheduleMark, (workflow, schedule), with_for_update=True)
        if mark is None:
            s.add(ScheduleMark(workflow=workflow, schedule=schedule, fired_at=fired_at, updated_at=utcnow()))
        elif _aware(mark.fired_at) < fired_at:  # never move back: another beat may be ahead
            mark.fired_at, mark.updated_at = fired_at, utcnow()


class Beat(Scheduler):
    """Celery's in-memory scheduler (the watchdogs' entries) plus the workflow clock."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._next_clock = 0.0

    def setup_schedule(self) -> None:
        super().setup_schedule()
        registry.check_settings(self.app)
        for workflow in registry.workflows(self.app):
            for schedule in registry.schedules(workflow, self.app.settings):
                logger.info("beat: workflow %s on schedule %s (catch-up %s, overlap %s)", workflow.name,
                            schedule.ident, schedule.catch_up.value, schedule.overlap.value)

    def tick(self, *args: Any, **kwargs: Any) -> float:
        remaining: float = super().tick(*args, **kwargs)
        if time.monotonic() >= self._next_clock:
            try:
                tick(self.app, datetime.now(UTC), sender(self.app))
            except Exception as error:  # the store is down, say: beat goes on, the next tick catches up
                logger.error("beat: the workflow clock could not tick (%s: %s)", type(error).__name__, error)
            self._next_clock = time.monotonic() + self.app.settings.schedule_tick_s
        return min(remaining, max(0.0, self._next_clock - time.monotonic()))
