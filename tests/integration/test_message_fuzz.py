"""Randomly malformed messages against real workers on RabbitMQ and Redis (bench/fuzz_messages.py runs longer).

Each message ends as a success, a retry, or exactly one dead letter, and the worker's main process never exits.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from tests.conftest import Clusters
from tests.support.hostile_messages import Hostile, Tally, hostile_messages, judge

pytestmark = pytest.mark.integration
EXAMPLES = 40  # per broker in CI; the campaign in bench/fuzz_messages.py sends thousands


@pytest.mark.parametrize("profile", ["production", "redis"])
def test_no_message_stops_a_worker_and_each_ends_once(clusters: Clusters, profile: str) -> None:
    cluster = clusters[profile]
    cluster.clean()
    pid = cluster.workers.processes["perception"].pid
    tally = Tally()

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(message=hostile_messages())
    def each(message: Hostile) -> None:
        judge(cluster.app, cluster.workers, message, tally)

    each()

    assert cluster.workers.processes["perception"].pid == pid
    assert sum(tally.outcomes.values()) == EXAMPLES, tally.line()
