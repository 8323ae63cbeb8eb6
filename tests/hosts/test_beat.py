"""Beat runs on one host only; when that host's beat dies, beat started on another host carries on, and the Daily
Sync still runs once per day.

The hosts' settings fire the Daily Sync every minute (its run key is the day), so the hand-over happens within a
minute instead of a day: beat on h1 sends the firing due when it starts, is SIGKILLed, and beat on h2 sends the
next minute's. The schedule's mark in the store tells the second beat which firings the first one sent, so it does not
send them again, and however many firings a day has, it gets one run.
"""

from __future__ import annotations

import re
import signal
import sys
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from organism import store
from organism.store.models import Run
from tests.hosts.conftest import DATABASE_URL, Cluster
from tests.support.services import finished_run, wait_for

pytestmark = pytest.mark.integration

SENT = re.compile(r"workflow daily-sync: sent the start of firing (\S+) \(schedule")
ORGANISM = str(Path(sys.executable).with_name("organism"))


def firings(log: Path) -> list[datetime]:
    """The Daily Sync firings a beat's log says it sent, in order."""
    text = log.read_text(errors="replace") if log.exists() else ""
    return [datetime.fromisoformat(at) for at in SENT.findall(text)]


def daily_sync_runs() -> list[Run]:
    with store.session(DATABASE_URL) as s:
        return list(s.scalars(select(Run).where(Run.workflow == "daily-sync")))


def test_beat_killed_on_one_host_and_started_on_another_makes_one_daily_sync_per_day(hosts: Cluster) -> None:
    first, second = hosts.host("h1"), hosts.host("h2")
    logs = {host.name: host.folder / "beat.log" for host in (first, second)}
    for log in logs.values():
        log.unlink(missing_ok=True)
    env = {name: hosts.hosts.env_for(host) for name, host in (("h1", first), ("h2", second))}

    beat = first.spawn([ORGANISM, "beat", "--loglevel", "INFO"], env["h1"], "beat.log")
    try:
        wait_for(lambda: firings(logs["h1"]), 60, "beat on h1 to send the Daily Sync's firing")
        wait_for(daily_sync_runs, 30, "the firing's run")
        beat.send_signal(signal.SIGKILL)
        beat.wait(10)
        by_first = firings(logs["h1"])
        beat = second.spawn([ORGANISM, "beat", "--loglevel", "INFO"], env["h2"], "beat.log")
        # The next firing is at most a minute away.
        wait_for(lambda: firings(logs["h2"]), 90, "beat on h2 to send the next firing")
        by_second = firings(logs["h2"])
    finally:
        beat.send_signal(signal.SIGKILL)
        beat.wait(10)

    runs = [finished_run(DATABASE_URL, run.id, 120) for run in daily_sync_runs()]
    print(f"\nbeat on h1 sent {[str(at) for at in by_first]}, then on h2 {[str(at) for at in by_second]}; runs: "
          f"{[(run.key, run.status) for run in runs]}")
    assert len(set(by_first)) == len(by_first) and len(set(by_second)) == len(by_second), "a beat sent a firing twice"
    # The second beat took over: it sent a later firing, and sent again none the first had marked as sent (only the
    # one the first might have been sending when it was killed could come again; its run key makes that harmless).
    assert max(by_second) > max(by_first)
    assert set(by_first) & set(by_second) <= {max(by_first)}
    assert sorted(run.key for run in runs) == sorted({f"daily-sync:{at.date()}" for at in by_first + by_second})
    assert {run.status for run in runs} == {"succeeded"}
