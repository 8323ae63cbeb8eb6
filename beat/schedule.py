"""Beat's schedule: a watchdog on every organ's queue, next to the workflow clock.

Every declared workflow's schedules come from the registry (organism.workflows.registry), each cron in its own
time zone; :class:`organism.workflows.clock.Beat` sends the start of each firing that is due, catching up those a
beat that was down missed, as each schedule's policy says. The run key turns a second beat's start, or a
redelivery, into a no-op.
"""

from __future__ import annotations

from typing import Any

from celery import Celery, current_app

from organism.priorities import NUMBERS, Priority
from organism.settings import Settings


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    # A watchdog on every organ's queue: it must run even when one organ has no worker (that may be why a run
    # hangs). It only touches open runs (failing those past their deadline, resuming once those whose chord state
    # was lost) and locks each run it changes, so running it several times is harmless. It goes ahead of the calls
    # waiting there (critical): a long queue must not hold back the failing of a run past its deadline.
    return {f"watchdog-{organ}": {"task": "organism.watchdog", "schedule": settings.watchdog_interval_s,
                                  "options": {"queue": organ, "routing_key": organ,
                                              "priority": NUMBERS[Priority.CRITICAL]}}
            for organ in settings.organs}


def install(app: Celery) -> None:
    """Give ``app`` the watchdogs (the app's ``beat_scheduler`` runs the workflow clock)."""
    app.conf.beat_schedule = {**app.conf.beat_schedule, **beat_schedule(app.settings)}


# This module is imported through the app's include list, while that app is the current one.
install(current_app._get_current_object())
