"""The Daily Sync at 06:00 in the configured time zone, exactly once a day.

Beat sends ``organism.start_workflow``; the run key (``daily-sync:<date>``) turns a second beat's message, or
a redelivery, into a no-op. Beat alone does not fire a schedule missed while it was down (it only fires an
overdue one it remembers), so a beat starting after the hour sends today's start itself when
``beat_catch_up`` is on; the run key again keeps that to one run.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from celery import Celery, current_app, signals
from celery.schedules import crontab

from organism.settings import Settings
from organism.workflows.runs import today
from tasks.daily_sync import NAME

logger = logging.getLogger(__name__)
START_TASK = "organism.start_workflow"


def daily_schedule(settings: Settings) -> crontab:
    """The crontab of the Daily Sync, in the app's time zone (Celery applies ``timezone`` to crontabs)."""
    return crontab(hour=settings.daily_sync_hour, minute=settings.daily_sync_minute)


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    # A watchdog on every organ's queue: it must run even when one organ has no worker (that may be why a run
    # hangs). It only touches open runs (failing those past their deadline, resuming once those whose chord state
    # was lost) and locks each run it changes, so running it several times is harmless.
    watchdogs = {f"watchdog-{organ}": {"task": "organism.watchdog", "schedule": settings.watchdog_interval_s,
                                       "options": {"queue": organ, "routing_key": organ,
                                                   "priority": settings.max_priority}}
                 for organ in settings.organs}
    return {NAME: {"task": START_TASK, "schedule": daily_schedule(settings), "args": (NAME,)}, **watchdogs}


def missed_today(settings: Settings, now: datetime) -> bool:
    """Whether today's Daily Sync time has passed at ``now`` (an aware datetime)."""
    local = now.astimezone(settings.zone)
    return (local.hour, local.minute) >= (settings.daily_sync_hour, settings.daily_sync_minute)


def _catch_up(sender: Any, **_: Any) -> None:
    app = sender.app
    settings: Settings = app.settings
    if settings.beat_catch_up and missed_today(settings, datetime.now(settings.zone)):
        day = today(settings).isoformat()
        logger.info("beat started after %02d:%02d: sending today's start (%s); the run key keeps it to one run",
                    settings.daily_sync_hour, settings.daily_sync_minute, day)
        app.send_task(START_TASK, args=(NAME, day))


def install(app: Celery) -> None:
    """Give ``app`` the Daily Sync schedule and the catch-up on beat start."""
    app.conf.beat_schedule = {**app.conf.beat_schedule, **beat_schedule(app.settings)}
    signals.beat_init.connect(_catch_up, weak=False)


# This module is imported through the app's include list, while that app is the current one.
install(current_app._get_current_object())
