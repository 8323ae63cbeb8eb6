"""Two years of schedules on a simulated clock: one run per scheduled local day (or week), none missed or doubled.

The clock (organism.workflows.clock.tick) is driven with a simulated ``now`` from 2026-01-01 to 2028-01-01,
through every daylight saving change of Europe/Berlin and America/New_York, against a real SQLite store and the
embedded broker: two beats ticking on their own cadences (one ticking again while the other is still sending,
as two processes would), each down for whole days, both down at once for a day more than once, and start messages
delivered twice. Nothing has to run, only be started, so no worker is needed; between firings the test marks the
runs finished, as workers would.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select, update

from organism import store
from organism.app import Organism, create_app
from organism.settings import load
from organism.store.models import OPEN_RUNS, Run, RunStatus, utcnow
from organism.workflows import registry
from organism.workflows.clock import Firing, tick
from organism.workflows.declaration import CatchUp, Schedule, Workflow
from organism.workflows.plan import Plan, RunContext
from organism.workflows.start import start_workflow
from tests.support.noop import echo

pytestmark = pytest.mark.integration

UTC = dt.UTC
BERLIN, NEW_YORK = ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York")
BEGIN, END = dt.datetime(2026, 1, 1, tzinfo=UTC), dt.datetime(2028, 1, 1, tzinfo=UTC)


class DayParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    date: dt.date


def one_node(ctx: RunContext) -> Plan:
    plan = Plan()
    plan.signature = plan.node(ctx, echo.s(1), "echo", 0, "only")
    return plan


def declare(name: str, *schedules: Schedule) -> Workflow:
    return registry.declare(Workflow(name=name, params=DayParams, key=lambda p: p.date.isoformat(), build=one_node,
                                     schedules=schedules))


# Declared here and nowhere else: a workflow needs no change to the runtime to be scheduled.
BERLIN_GAP = declare("sim-berlin-0230")  # 02:30 is skipped in spring and repeated in autumn in Berlin
NEW_YORK_FOLD = declare("sim-newyork-0130")  # 01:30 is repeated in autumn in New York
NEW_YORK_GAP = declare("sim-newyork-0230")  # 02:30 is skipped in spring in New York
# The weekly review's Mondays 07:00, declared with the workflow; latest only: a day down misses at most one Monday,
# which still starts.
WEEKLY = declare("sim-weekly", Schedule("0 7 * * 1", "Europe/Berlin", catch_up=CatchUp.LATEST))
OVERLAPPING = declare("sim-overlap")
# A firing whose parameters its model refuses (a setting can make a default wrong; here the firing adds one).
REFUSED = registry.declare(Workflow(name="sim-refused", params=DayParams, key=lambda p: p.date.isoformat(),
                                    build=one_node, on_firing=lambda at: {"date": at.date().isoformat(), "region": 1}))
# The daily ones come from the settings (ORGANISM_SCHEDULES).
BY_SETTINGS = {BERLIN_GAP.name: [{"cron": "30 2 * * *", "zone": "Europe/Berlin"}],
               NEW_YORK_FOLD.name: [{"cron": "30 1 * * *", "zone": "America/New_York"}],
               NEW_YORK_GAP.name: [{"cron": "30 2 * * *", "zone": "America/New_York"}]}


def embedded_app(data_dir: Path, schedules: dict[str, list[dict[str, Any]]],
                 declared: tuple[Workflow, ...] = ()) -> Organism:
    """An embedded-profile app over a migrated store in ``data_dir`` in which only ``schedules`` (as settings) and
    the declared schedules of ``declared`` are in force: every other workflow this process declares (the Daily
    Sync, say) runs by hand."""
    base: dict[str, Any] = {"profile": "embedded", "data_dir": data_dir, "task_modules": (__name__,)}
    others = [w for w in registry.workflows(create_app(load(**base))) if w not in declared]
    by_hand: dict[str, list[dict[str, Any]]] = {w.name: [] for w in others}
    settings = load(**base, schedules=by_hand | schedules)
    store.migrate(settings.database)
    app = create_app(settings)
    registry.check_settings(app)
    return app


def transitions(zone: ZoneInfo) -> list[dt.datetime]:
    """The instants in [BEGIN, END) where ``zone`` changes its offset, found hour by hour."""
    hours = [BEGIN + dt.timedelta(hours=h) for h in range(int((END - BEGIN) / dt.timedelta(hours=1)))]
    return [b for a, b in itertools.pairwise(hours) if a.astimezone(zone).utcoffset() != b.astimezone(zone).utcoffset()]


@dataclass
class Beat:
    """One beat process: when it ticks, and the whole days it is down."""

    name: str
    every: dt.timedelta
    offset: dt.timedelta
    down: list[tuple[dt.datetime, dt.datetime]]

    def up(self, at: dt.datetime) -> bool:
        return not any(start <= at < end for start, end in self.down)

    def ticks(self, extra: list[dt.datetime]) -> Iterator[dt.datetime]:
        at = BEGIN + self.offset
        while at < END:
            yield at
            at += self.every
        yield from extra


@dataclass
class Delivery:
    """The broker and the workers, as far as starting goes: each start message reaches the ``start_workflow``
    task body, some twice (a redelivery), and the run is then marked finished."""

    app: Organism
    sent: list[tuple[str, Firing, dt.datetime]] = field(default_factory=list)  # (beat, firing, now)
    delivered: int = 0
    later: list[dict[str, Any]] = field(default_factory=list)  # redeliveries due at the next tick
    seen: set[tuple[str, str, dt.datetime]] = field(default_factory=set)  # (beat, workflow, firing in UTC)
    doubled: list[tuple[str, str, dt.datetime]] = field(default_factory=list)  # firings a beat sent twice

    def deliver(self, message: dict[str, Any]) -> None:
        self.app.tasks[start_workflow.name].run(**message)
        self.delivered += 1
        with store.session(self.app.settings.database) as s:
            s.execute(update(Run).where(Run.status.in_(OPEN_RUNS)).values(status=RunStatus.SUCCEEDED.value,
                                                                    finished_at=utcnow()))

    def send(self, beat: str, now: dt.datetime, during: Callable[[], None] | None = None) -> Callable[[Firing], None]:
        def send(firing: Firing) -> None:
            seen = (beat, firing.workflow, firing.at.astimezone(UTC))
            if seen in self.seen:
                self.doubled.append(seen)
            self.seen.add(seen)
            self.sent.append((beat, firing, now))
            if during is not None and len(self.sent) % 4 == 0:
                during()  # the other beat ticks while this one is between two sends
            message = firing.message()
            self.deliver(message)
            if len(self.sent) % 3 == 0:
                self.deliver(message)  # redelivered at once (the worker died before its ack)
            if len(self.sent) % 5 == 0:
                self.later.append(message)  # redelivered after the run has finished

        return send

    def redeliver(self) -> None:
        for message in self.later:
            self.deliver(message)
        self.later.clear()


def day(text: str, hours: float = 24) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.fromisoformat(text).replace(tzinfo=UTC)
    return start, start + dt.timedelta(hours=hours)


def expected_keys() -> dict[str, set[str]]:
    """The run keys two years of these schedules make: one per local date (one per Monday for the weekly one).

    The first tick, at midnight UTC on 2026-01-01, finds no mark: each daily schedule starts its latest firing
    within its window, that of 2025-12-31 (a beat deployed after the hour runs today's); the latest Monday,
    2025-12-29, is outside the weekly's window. The last firings are those of 2027-12-31 (2028-01-01's are after
    the end, in both zones).
    """
    daily = [dt.date(2025, 12, 31) + dt.timedelta(days=n) for n in range(731)]
    mondays = [dt.date(2026, 1, 5) + dt.timedelta(weeks=n) for n in range(104)]
    assert daily[-1] == dt.date(2027, 12, 31) and mondays[-1] == dt.date(2027, 12, 27)
    keys = {w.name: {f"{w.name}:{d.isoformat()}" for d in daily} for w in (BERLIN_GAP, NEW_YORK_FOLD, NEW_YORK_GAP)}
    keys[WEEKLY.name] = {f"{WEEKLY.name}:{d.isoformat()}" for d in mondays}
    return keys


def test_two_years_of_firings_make_one_run_per_scheduled_day(tmp_path: Path) -> None:
    app = embedded_app(tmp_path, BY_SETTINGS, declared=(WEEKLY,))
    assert [s.ident for s in registry.schedules(WEEKLY, app.settings)] == ["0 7 * * 1 Europe/Berlin"]
    changes = transitions(BERLIN) + transitions(NEW_YORK)
    assert len(changes) == 8, changes  # spring and autumn, in both zones, in both years
    # Ticks right around each change, besides the cadences: the firings inside the gap and the fold are there.
    around = sorted(at + dt.timedelta(minutes=m) for at in changes for m in (-61, -30, -1, 0, 1, 29, 30, 31, 60, 90))
    a = Beat("a", dt.timedelta(minutes=37), dt.timedelta(0),
             down=[day("2026-03-08"), day("2026-10-25"), day("2027-03-28"), day("2027-11-07"),
                   day("2026-07-04T18:00", 36), day("2027-08-15T12:00", 30)])
    b = Beat("b", dt.timedelta(minutes=53), dt.timedelta(minutes=11),
             down=[day("2026-03-29"), day("2026-11-01"), day("2027-03-14"), day("2027-10-31"),
                   day("2026-07-05", 30), day("2027-08-16")])
    both_down = [(max(x[0], y[0]), min(x[1], y[1])) for x in a.down for y in b.down
                 if max(x[0], y[0]) < min(x[1], y[1])]
    assert len(both_down) == 2  # from Sunday 2026-07-05 into Monday, and Monday 2027-08-16
    delivery = Delivery(app)
    schedule = sorted([(at, a) for at in a.ticks(around)] + [(at, b) for at in b.ticks(around)]
                      + [(END, a), (END, b)], key=lambda t: (t[0], t[1].name))

    for now, beat in schedule:
        if not beat.up(now):
            continue
        delivery.redeliver()
        other = b if beat is a else a

        def meanwhile(now: dt.datetime = now, other: Beat = other) -> None:
            if other.up(now):
                tick(app, now, delivery.send(other.name, now))

        tick(app, now, delivery.send(beat.name, now, during=meanwhile))
        assert delivery.doubled == [], f"{now}: a beat sent these firings again: {delivery.doubled}"

    with store.session(app.settings.database) as s:
        runs = s.execute(select(Run.workflow, Run.key, Run.status, Run.history)).all()
    keys = Counter(run.key for run in runs)
    assert [key for key, n in keys.items() if n > 1] == []
    made: dict[str, set[str]] = defaultdict(set)
    for run in runs:
        made[run.workflow].add(run.key)
    for workflow, wanted in expected_keys().items():
        assert sorted(wanted - made[workflow]) == [], f"{workflow}: missing runs"
        assert sorted(made[workflow] - wanted) == [], f"{workflow}: runs on days not scheduled"
    assert len(runs) == sum(len(k) for k in expected_keys().values())
    assert {run.status for run in runs} == {RunStatus.SUCCEEDED.value}
    gap = next(run for run in runs if run.key == f"{BERLIN_GAP.name}:2026-03-29")
    assert gap.history[0]["detail"] == "schedule 30 2 * * * Europe/Berlin, firing 2026-03-29T02:30:00+01:00"

    # Every firing was sent at its local time, the skipped and repeated ones once each.
    sent = [firing for _, firing, _ in delivery.sent]
    local = {(f.workflow, f.at.strftime("%H:%M"), f.at.tzinfo) for f in sent}
    assert local == {(BERLIN_GAP.name, "02:30", BERLIN), (NEW_YORK_FOLD.name, "01:30", NEW_YORK),
                     (NEW_YORK_GAP.name, "02:30", NEW_YORK), (WEEKLY.name, "07:00", BERLIN)}
    assert {f.at.weekday() for f in sent if f.workflow == WEEKLY.name} == {0}
    at_utc = {(f.workflow, f.at.astimezone(UTC)) for f in sent}
    assert (BERLIN_GAP.name, dt.datetime(2026, 3, 29, 1, 30, tzinfo=UTC)) in at_utc  # 02:30 CET = 03:30 CEST
    assert (NEW_YORK_GAP.name, dt.datetime(2027, 3, 14, 7, 30, tzinfo=UTC)) in at_utc  # 02:30 EST = 03:30 EDT
    assert (NEW_YORK_FOLD.name, dt.datetime(2026, 11, 1, 5, 30, tzinfo=UTC)) in at_utc  # the first 01:30 (EDT)
    assert (NEW_YORK_FOLD.name, dt.datetime(2026, 11, 1, 6, 30, tzinfo=UTC)) not in at_utc  # not the second
    assert (BERLIN_GAP.name, dt.datetime(2027, 10, 31, 0, 30, tzinfo=UTC)) in at_utc  # the first 02:30 (CEST)

    # Both beats down: the firings of those days started when a beat came back, under their own dates.
    for start, end in both_down:
        late = [f for _, f, now in delivery.sent if start <= f.at < end and now >= end]
        assert late, f"no firing between {start} and {end} was caught up"
    # Two beats' worth of firings: some were sent by both (never twice by one, checked at each tick), and some
    # start messages were delivered more than once.
    by_firing = Counter((firing.workflow, firing.at) for _, firing, _ in delivery.sent)
    assert 2 in by_firing.values()
    assert delivery.delivered > len(delivery.sent) > len(runs)


def test_a_firing_while_the_previous_run_is_open_is_skipped_unless_overlap_is_allowed(tmp_path: Path) -> None:
    daily = {"cron": "0 6 * * *", "zone": "Europe/Berlin"}
    first, second = dt.datetime(2026, 6, 1, 4, 30, tzinfo=UTC), dt.datetime(2026, 6, 2, 4, 30, tzinfo=UTC)

    def two_firings(app: Organism) -> dict[str, tuple[str, str | None]]:
        """Tick at the first firing and the next day's; the first run is left open."""

        def send(firing: Firing) -> None:
            app.tasks[start_workflow.name].run(**firing.message())

        for now in (first, second):
            tick(app, now, send)
        with store.session(app.settings.database) as s:
            return {run.key: (run.status, run.error) for run in s.scalars(select(Run))}

    skipping = two_firings(embedded_app(tmp_path / "skip", {OVERLAPPING.name: [daily]}))
    assert skipping["sim-overlap:2026-06-01"] == (RunStatus.PENDING.value, None)
    status, error = skipping["sim-overlap:2026-06-02"]
    assert status == RunStatus.SKIPPED.value and "sim-overlap:2026-06-01 was still open" in (error or "")

    allowing = two_firings(embedded_app(tmp_path / "allow", {OVERLAPPING.name: [daily | {"overlap": "allow"}]}))
    assert allowing["sim-overlap:2026-06-01"] == (RunStatus.PENDING.value, None)
    assert allowing["sim-overlap:2026-06-02"] == (RunStatus.PENDING.value, None)


def test_a_firing_with_a_wrong_parameter_is_refused_by_beat_in_one_line_and_not_sent(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    app = embedded_app(tmp_path, {REFUSED.name: [{"cron": "0 6 * * *", "zone": "Europe/Berlin"}]})
    sent: list[Firing] = []
    now = dt.datetime(2026, 6, 1, 5, 0, tzinfo=UTC)  # 07:00 in Berlin: today's 06:00 has fired

    with caplog.at_level("ERROR", logger="organism.workflows.clock"):
        tick(app, now, sent.append)
        tick(app, now + dt.timedelta(minutes=1), sent.append)  # handled: not refused again

    assert sent == []
    assert [r.getMessage() for r in caplog.records] == [
        "sim-refused: firing 2026-06-01T06:00:00+02:00 not started: workflow sim-refused: parameter region: no such "
        "parameter (its parameters: date)"]
    with store.session(app.settings.database) as s:
        assert s.scalars(select(Run.key)).all() == []
