"""The gateway's semaphore is cluster-wide: three hosts' workers, twelve threads in all, never have more calls in
flight at the model server than its permits.

The fake model server counts the requests it is serving at once (its ``peak``); each host reaches it through its own
bridge, so the count is across hosts. Without the shared semaphore twelve threads would have twelve in flight.
"""

from __future__ import annotations

from collections import Counter

import pytest
from celery.result import ResultSet

from tests.gateway.conftest import WORKER_GATEWAY
from tests.hosts import workload
from tests.hosts.conftest import HOSTS, Cluster

pytestmark = pytest.mark.integration

CALLS = 120
LATENCY_MS = 100


def test_the_gateway_semaphore_keeps_its_limit_across_three_hosts(hosts: Cluster) -> None:
    limit = WORKER_GATEWAY["max_concurrency"]
    hosts.server.control(latency_ms=LATENCY_MS)

    calls = [workload.ask.delay(f"call {i}") for i in range(CALLS)]
    answers = ResultSet(calls, app=hosts.app).get(timeout=120, interval=0.05)

    stats = hosts.server.stats()
    per_host = Counter(answer["host"] for answer in answers)
    print(f"\n{CALLS} model calls from three hosts: per host {dict(sorted(per_host.items()))}, at most "
          f"{stats['peak']} in flight (limit {limit}), {stats['average_concurrency']:.2f} on average")
    assert sorted(answer["content"] for answer in answers) == sorted(f"echo: call {i}" for i in range(CALLS))
    assert stats["outcomes"] == {"ok": CALLS}
    assert set(per_host) == set(HOSTS)
    assert stats["peak"] <= limit, "more calls were in flight than the semaphore's permits"
