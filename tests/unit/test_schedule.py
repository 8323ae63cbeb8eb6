"""The Daily Sync's 06:00 falls at 06:00 local time, in a zone without DST and in one with it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from beat.schedule import beat_schedule, daily_schedule, missed_today
from organism.app import create_app
from organism.settings import load


def next_run(zone: str, after: datetime) -> datetime:
    """When beat, last run at ``after``, next fires: Celery's own crontab arithmetic in the app's zone."""
    settings = load(timezone=zone)
    create_app(settings)  # the current app: crontabs take their time zone from it, as in beat
    schedule = daily_schedule(settings)
    schedule.nowfun = lambda: after
    return (after + schedule.remaining_estimate(after)).astimezone(UTC)


@pytest.mark.parametrize(("zone", "after", "expected_utc"), [
    ("Asia/Shanghai", datetime(2026, 11, 23, 21, 0, tzinfo=UTC), datetime(2026, 11, 23, 22, 0, tzinfo=UTC)),
    ("Asia/Shanghai", datetime(2026, 6, 1, 12, 0, tzinfo=UTC), datetime(2026, 6, 1, 22, 0, tzinfo=UTC)),
    # New York: EST (UTC-5) in winter, EDT (UTC-4) after the switch on 2026-03-08 and before 2026-11-01.
    ("America/New_York", datetime(2026, 3, 7, 12, 0, tzinfo=UTC), datetime(2026, 3, 8, 10, 0, tzinfo=UTC)),
    ("America/New_York", datetime(2026, 3, 6, 12, 0, tzinfo=UTC), datetime(2026, 3, 7, 11, 0, tzinfo=UTC)),
    ("America/New_York", datetime(2026, 10, 31, 12, 0, tzinfo=UTC), datetime(2026, 11, 1, 11, 0, tzinfo=UTC)),
])
def test_six_oclock_local(zone: str, after: datetime, expected_utc: datetime) -> None:
    fired = next_run(zone, after)

    assert fired == expected_utc
    assert fired.astimezone(ZoneInfo(zone)).hour == 6


def test_missed_today_is_judged_in_the_configured_zone() -> None:
    settings = load(timezone="Asia/Shanghai")
    # 21:30 UTC is 05:30 the next morning in Shanghai: not yet missed; 22:30 UTC is 06:30: missed.
    assert not missed_today(settings, datetime(2026, 11, 23, 21, 30, tzinfo=UTC))
    assert missed_today(settings, datetime(2026, 11, 23, 22, 30, tzinfo=UTC))
    assert missed_today(settings, datetime(2026, 11, 23, 22, 30, tzinfo=UTC) + timedelta(hours=17))


def test_a_watchdog_runs_on_every_organ_queue() -> None:
    schedule = beat_schedule(load(watchdog_interval_s=15))
    watchdogs = {name: entry for name, entry in schedule.items() if entry["task"] == "organism.watchdog"}
    assert sorted(e["options"]["queue"] for e in watchdogs.values()) == sorted(load().organs)
    assert {e["schedule"] for e in watchdogs.values()} == {15}


def test_schedule_starts_the_daily_sync() -> None:
    entry = beat_schedule(load(daily_sync_hour=7, daily_sync_minute=30))["daily-sync"]
    assert entry["task"] == "organism.start_workflow" and entry["args"] == ("daily-sync",)
    assert entry["schedule"].hour == {7} and entry["schedule"].minute == {30}
