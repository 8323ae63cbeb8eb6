"""Workflow schedules: firings at their local time whatever daylight saving does, the catch-up policies, the checks
of a declared or configured schedule, and what beat runs."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from celery.utils.imports import symbol_by_name

from beat.schedule import beat_schedule
from organism.app import create_app
from organism.settings import load
from organism.workflows import registry
from organism.workflows.clock import Beat
from organism.workflows.declaration import CatchUp, DeclarationError, Schedule
from organism.workflows.schedules import due, firings, next_firing
from tasks.daily_sync import DAILY_SYNC


def daily(zone: str, first: date, last: date, cron: str = "0 6 * * *") -> list[datetime]:
    """The firings of ``cron`` in ``zone`` on the local days ``first`` to ``last``."""
    tz = ZoneInfo(zone)
    return firings(Schedule(cron, zone), datetime.combine(first, datetime.min.time(), tz),
                   datetime.combine(last + timedelta(days=1), datetime.min.time(), tz))


@pytest.mark.parametrize(("zone", "offsets"), [
    ("Asia/Shanghai", {8}),  # no daylight saving
    ("America/New_York", {-5, -4}),  # EDT from 2026-03-08 to 2026-11-01
    ("Europe/Berlin", {1, 2}),  # CEST from 2026-03-29 to 2026-10-25
])
def test_six_oclock_fires_at_six_local_time_every_day_of_the_year(zone: str, offsets: set[int]) -> None:
    fired = daily(zone, date(2026, 1, 1), date(2026, 12, 31))

    assert [at.date() for at in fired] == [date(2026, 1, 1) + timedelta(days=n) for n in range(365)]
    assert {(at.hour, at.minute) for at in fired} == {(6, 0)}
    assert {at.astimezone(UTC).hour for at in fired} == {(6 - offset) % 24 for offset in offsets}


@pytest.mark.parametrize(("zone", "before", "after", "utc_hours"), [
    ("America/New_York", date(2026, 3, 7), date(2026, 3, 8), (11, 10)),
    ("America/New_York", date(2026, 10, 31), date(2026, 11, 1), (10, 11)),
    ("Europe/Berlin", date(2026, 3, 28), date(2026, 3, 29), (5, 4)),
    ("Europe/Berlin", date(2026, 10, 24), date(2026, 10, 25), (4, 5)),
])
def test_the_day_of_a_change_fires_at_the_new_offset(zone: str, before: date, after: date,
                                                     utc_hours: tuple[int, int]) -> None:
    fired = daily(zone, before, after)

    assert [(at.date(), at.astimezone(UTC).hour) for at in fired] == list(zip((before, after), utc_hours, strict=True))


def test_a_time_the_spring_change_skips_fires_once_that_day() -> None:
    # Berlin goes from 02:00 CET to 03:00 CEST on 2026-03-29: 02:30 does not exist that night.
    fired = daily("Europe/Berlin", date(2026, 3, 28), date(2026, 3, 30), cron="30 2 * * *")

    assert [at.date() for at in fired] == [date(2026, 3, 28), date(2026, 3, 29), date(2026, 3, 30)]
    # Read with the offset before the change: 02:30 CET, which is 03:30 CEST.
    assert fired[1].astimezone(UTC) == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert fired[1].astimezone(UTC).astimezone(ZoneInfo("Europe/Berlin")).strftime("%H:%M %Z") == "03:30 CEST"


def test_a_time_the_autumn_change_repeats_fires_once_at_its_first_occurrence() -> None:
    # New York goes from 02:00 EDT back to 01:00 EST on 2026-11-01: 01:30 happens twice.
    fired = daily("America/New_York", date(2026, 10, 31), date(2026, 11, 2), cron="30 1 * * *")

    assert [at.date() for at in fired] == [date(2026, 10, 31), date(2026, 11, 1), date(2026, 11, 2)]
    assert fired[1].astimezone(UTC) == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # 01:30 EDT, not 01:30 EST


def test_next_firing_of_a_weekly_schedule_is_the_next_monday() -> None:
    weekly = Schedule("0 7 * * 1", "Europe/Berlin")

    # Saturday 2026-10-24; the clocks go back on Sunday: Monday 07:00 is CET again.
    fired = next_firing(weekly, datetime(2026, 10, 24, 12, 0, tzinfo=UTC))

    assert fired is not None and fired.astimezone(UTC) == datetime(2026, 10, 26, 6, 0, tzinfo=UTC)


def at_six(day: int) -> datetime:
    return datetime(2026, 1, day, 6, 0, tzinfo=UTC)


SIX_UTC = "0 6 * * *"
TICK = timedelta(minutes=1)


@pytest.mark.parametrize(("policy", "start", "missed"), [
    # Last handled: the 1st. Now: the 4th at 07:00. The window (two days) reaches back to the 2nd at 07:00.
    (CatchUp.ALL, [at_six(3), at_six(4)], [at_six(2)]),
    (CatchUp.LATEST, [at_six(4)], [at_six(2), at_six(3)]),
    (CatchUp.SKIP, [], [at_six(2), at_six(3), at_six(4)]),  # an hour late is not on time
])
def test_a_beat_back_after_days_down_starts_what_its_catch_up_policy_says(
        policy: CatchUp, start: list[datetime], missed: list[datetime]) -> None:
    plan = due(Schedule(SIX_UTC, "UTC", catch_up=policy), at_six(1), at_six(4) + timedelta(hours=1), TICK)

    assert (plan.start, plan.missed, plan.handled) == (start, missed, at_six(4))


def test_skip_starts_a_firing_that_is_on_time() -> None:
    plan = due(Schedule(SIX_UTC, "UTC", catch_up=CatchUp.SKIP), at_six(1), at_six(4) + timedelta(seconds=30), TICK)

    assert (plan.start, plan.missed) == ([at_six(4)], [at_six(2), at_six(3)])


@pytest.mark.parametrize("policy", list(CatchUp))
def test_nothing_is_due_between_firings(policy: CatchUp) -> None:
    plan = due(Schedule(SIX_UTC, "UTC", catch_up=policy), at_six(4), at_six(4) + timedelta(hours=5), TICK)

    assert (plan.start, plan.missed, plan.handled) == ([], [], at_six(4))


@pytest.mark.parametrize(("now", "start"), [
    (at_six(4) + timedelta(hours=1), at_six(4)),  # deployed after the hour: today's still runs
    (at_six(4) - timedelta(hours=1), at_six(3)),  # before it: yesterday's, within the window
])
def test_a_schedule_seen_for_the_first_time_starts_only_its_latest_firing(now: datetime, start: datetime) -> None:
    plan = due(Schedule(SIX_UTC, "UTC"), None, now, TICK)

    assert (plan.start, plan.missed, plan.handled) == ([start], [], start)


def test_a_cron_has_five_fields() -> None:
    with pytest.raises(DeclarationError, match=r"schedule '0 6 \* \*': a cron expression has five fields"):
        Schedule("0 6 * *", "UTC")


@pytest.mark.parametrize("cron", ["0 25 * * *", "0 6 * * 9", "0 6 * 13 *", "0 6 32 * *", "x 6 * * *"])
def test_a_bad_cron_is_refused_naming_it(cron: str) -> None:
    with pytest.raises(DeclarationError, match=f"^schedule {re.escape(repr(cron))}: "):
        Schedule(cron, "UTC")


def test_each_field_is_read_in_cron_order() -> None:
    # minute hour day-of-month month day-of-week: the 15th of each month, and only in March.
    fired = daily("UTC", date(2026, 1, 1), date(2026, 12, 31), cron="0 6 15 3 *")

    assert [at.date() for at in fired] == [date(2026, 3, 15)]


def test_an_unknown_zone_is_refused_naming_it() -> None:
    with pytest.raises(DeclarationError, match="unknown time zone 'Europe/Atlantis'"):
        Schedule("0 6 * * *", "Europe/Atlantis")


def test_settings_replace_a_workflows_declared_schedules() -> None:
    weekly = {"cron": "0 7 * * 1", "zone": "Europe/Berlin", "catch_up": "latest", "overlap": "allow"}

    assert registry.schedules(DAILY_SYNC, load()) == (Schedule("0 6 * * *", "Asia/Shanghai"),)
    replaced = registry.schedules(DAILY_SYNC, load(schedules={"daily-sync": [weekly]}))
    assert [(s.ident, s.catch_up.value, s.overlap.value) for s in replaced] == [
        ("0 7 * * 1 Europe/Berlin", "latest", "allow")]
    assert registry.schedules(DAILY_SYNC, load(schedules={"daily-sync": []})) == ()  # by hand only


def test_a_wrong_schedule_in_settings_names_the_setting() -> None:
    settings = load(schedules={"daily-sync": [{"cron": "0 6 * * *", "zone": "Mars/Olympus"}]})

    with pytest.raises(DeclarationError, match=r"^setting ORGANISM_SCHEDULES\[daily-sync\]\[0\]: .*'Mars/Olympus'"):
        registry.schedules(DAILY_SYNC, settings)


def test_a_schedule_in_settings_for_an_unknown_workflow_is_refused_in_one_line() -> None:
    app = create_app(load(schedules={"daily-snyc": [{"cron": "0 6 * * *", "zone": "UTC"}]}))

    with pytest.raises(DeclarationError) as refused:
        registry.check_settings(app)

    assert "\n" not in str(refused.value)
    assert "unknown workflow 'daily-snyc'" in str(refused.value) and "daily-sync" in str(refused.value)


def test_a_watchdog_runs_on_every_organ_queue() -> None:
    schedule = beat_schedule(load(watchdog_interval_s=15))
    watchdogs = {name: entry for name, entry in schedule.items() if entry["task"] == "organism.watchdog"}
    assert sorted(e["options"]["queue"] for e in watchdogs.values()) == sorted(load().organs)
    assert {e["schedule"] for e in watchdogs.values()} == {15}


def test_beat_runs_the_workflow_clock() -> None:
    from organism.app import app

    assert symbol_by_name(app.conf.beat_scheduler) is Beat
