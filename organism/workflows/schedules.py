"""When a schedule fires, and which of its firings to start now: pure functions of the clock.

Firings are enumerated day by day in the schedule's own zone, from the sets Celery's ``crontab`` parses, so a
local time names one instant whatever daylight saving does (see :class:`~.declaration.Schedule`). Celery beat's
own crontab entries are not used for workflows: they answer "is it due now?" from the last run beat remembers,
which cannot say which days a beat that was down missed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from organism.workflows.declaration import CatchUp, Schedule

logger = logging.getLogger(__name__)


def firings(schedule: Schedule, after: datetime, until: datetime) -> list[datetime]:
    """The firings of ``schedule`` in ``(after, until]``, oldest first, as aware datetimes in its zone."""
    zone, cron = schedule.tz, schedule.crontab
    day, last = after.astimezone(zone).date() - timedelta(days=1), until.astimezone(zone).date()
    found = []
    while day <= last:
        # Celery's day_of_week counts from Sunday = 0; Python's weekday() from Monday = 0.
        if (day.month in cron.month_of_year and day.day in cron.day_of_month
                and (day.weekday() + 1) % 7 in cron.day_of_week):
            for hour in sorted(cron.hour):
                for minute in sorted(cron.minute):
                    at = _local(day, hour, minute, schedule)
                    if after < at <= until:
                        found.append(at)
        day += timedelta(days=1)
    # A skipped local time is read with the earlier offset, so it can land on the same instant as a later firing
    # of the same day: keep one per instant. (Times of one zone compare by their wall clock, so by UTC here.)
    by_instant = {at.astimezone(UTC): at for at in reversed(found)}
    return [by_instant[instant] for instant in sorted(by_instant)]


def _local(day: date, hour: int, minute: int, schedule: Schedule) -> datetime:
    """The local time on ``day``; ``fold=0`` picks a repeated time's first occurrence and reads a skipped one with
    the offset before the change (PEP 495)."""
    return datetime.combine(day, time(hour, minute), tzinfo=schedule.tz)


def next_firing(schedule: Schedule, now: datetime) -> datetime | None:
    """The schedule's first firing after ``now`` (None if it never fires within a year, e.g. 30 February)."""
    ahead = firings(schedule, now, now + timedelta(days=366))
    return ahead[0] if ahead else None


@dataclass(frozen=True)
class Due:
    """What a schedule should do at a tick.

    Attributes:
        start: the firings to start now, oldest first.
        missed: firings passed over (beyond the catch-up window, or by the policy), oldest first.
        handled: the newest firing at or before now, which the schedule's mark moves to; None if it never fired.
    """

    start: list[datetime]
    missed: list[datetime]
    handled: datetime | None


def due(schedule: Schedule, last: datetime | None, now: datetime, on_time: timedelta) -> Due:
    """The firings to start at ``now``, given ``last``, the newest firing already handled.

    A schedule seen for the first time (``last`` None) starts at most its latest firing within the catch-up
    window, so that a beat started after the hour still runs today's, but a new deployment does not run a week of
    history. ``on_time`` is how late a firing may be and still count as on time (a tick's interval, or two): the
    ``skip`` policy starts only such firings.
    """
    horizon = now - schedule.catch_up_window
    passed = firings(schedule, max(last, horizon) if last else horizon, now)
    too_old = firings(schedule, last, horizon) if last and last < horizon else []
    if schedule.catch_up is CatchUp.SKIP:
        candidates = [at for at in passed if at > now - on_time]
    elif schedule.catch_up is CatchUp.ALL and last is not None:
        candidates = passed
    else:
        candidates = passed[-1:]
    passed_over = [at for at in passed if at not in candidates] if last is not None else []
    handled = passed[-1] if passed else (too_old[-1] if too_old else last)
    return Due(candidates, too_old + passed_over, handled)
