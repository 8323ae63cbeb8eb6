"""Three hosts share the organ queues: a Daily Sync, and a burst of 2,000 I/O-bound calls, are served by all three.

Which host ran a call comes from the worker's name: the Daily Sync's nodes from their stored results (Celery's
extended results name the worker), the burst's calls from the rows they wrote. How fast a burst drains with one,
two or three hosts is a figure of bench/hosts.py, not asserted here.
"""

from __future__ import annotations

from collections import Counter
from datetime import date

import pytest
from celery.result import AsyncResult, ResultSet
from sqlalchemy import select

from organism import store
from organism.store.models import Node
from organism.workflows.start import start
from tests.hosts import workload
from tests.hosts.conftest import DATABASE_URL, HOSTS, Cluster
from tests.support.hosts import host_of
from tests.support.services import finished_run

pytestmark = pytest.mark.integration

BURST = 2000


def test_a_daily_sync_is_served_by_all_three_hosts(hosts: Cluster) -> None:
    started = start(hosts.app, "daily-sync", {"date": date(2026, 11, 23)})
    run = finished_run(DATABASE_URL, started.run_id, 120)

    assert run.status == "succeeded", run.error
    with store.session(DATABASE_URL) as s:
        nodes = s.scalars(select(Node).where(Node.run_id == run.id)).all()
    served = {node.name: host_of(AsyncResult(node.task_id, app=hosts.app).worker) for node in nodes}
    print(f"\nDaily Sync nodes per host: {dict(sorted(Counter(served.values()).items()))}; {served}")
    assert len(served) == 8
    # Four scans at once on three perception workers that each take one message at a time: every host gets one.
    assert set(served.values()) == set(HOSTS)


def test_a_burst_of_2000_io_bound_calls_is_served_by_all_three_hosts(hosts: Cluster) -> None:
    calls = workload.burst(BURST)
    answers = ResultSet(list(calls.values()), app=hosts.app).get(timeout=120, interval=0.05)

    per_host = Counter(answer["host"] for answer in answers)
    print(f"\nburst of {BURST}: calls per host {dict(sorted(per_host.items()))}")
    assert sorted(answer["call"] for answer in answers) == sorted(calls)
    assert workload.by_host(DATABASE_URL) == per_host  # one effect per call, written where it ran
    assert set(per_host) == set(HOSTS)
    assert min(per_host.values()) >= BURST // 10, "a host took almost no share of the burst"
