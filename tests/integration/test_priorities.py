"""Priority levels on every broker: a critical call overtakes a queue of 500 low-priority calls.

The organ's worker is stopped while the calls queue up, then one worker of one process taking one message at a time
(concurrency 1, prefetch 1) serves them; each call marks in a Redis list that it ran.
"""

from __future__ import annotations

import uuid

import pytest
import redis

from tests.conftest import Cluster
from tests.support.faulty import SIDE_EFFECTS
from tests.support.held_organ import organ_held
from tests.support.queued import ORGAN, mark, urgent_mark
from tests.support.services import wait_for

pytestmark = pytest.mark.integration
LOW_CALLS = 500
FIRST = 8  # how many of the first calls the test reads: the four it sent at other levels, and some low ones
BOUND = 3  # a critical call runs among the first three (the two critical ones first, unless one is overtaken)


def _first(ran: redis.Redis, key: str) -> list[str]:
    """The labels of the first :data:`FIRST` calls that ran, once that many have (none before)."""
    taken = [str(label) for label in ran.lrange(key, 0, FIRST - 1)]
    return taken if len(taken) == FIRST else []


def test_a_critical_call_runs_within_the_first_few_of_500_queued_low_calls(cluster: Cluster) -> None:
    key = f"priorities:{uuid.uuid4()}"
    ran = redis.Redis.from_url(SIDE_EFFECTS, decode_responses=True)
    with organ_held(cluster, ORGAN) as serve:
        for n in range(LOW_CALLS):
            mark.apply_async((key, f"low-{n}"), priority="low")
        mark.apply_async((key, "normal"))  # the skill's own level, normal
        mark.apply_async((key, "high"), priority="high")
        urgent_mark.apply_async((key, "critical by its skill"))  # declared critical
        mark.apply_async((key, "critical by the call"), priority="critical")
        with serve(concurrency=1, prefetch=1):
            order = wait_for(lambda: _first(ran, key), 120, f"the first {FIRST} calls to run")
    ran.delete(key)

    where = {label: order.index(label) + 1 for label in order if not label.startswith("low-")}
    assert where.get("critical by the call", FIRST + 1) <= BOUND, f"the first {FIRST} calls: {order}"
    assert where.get("critical by its skill", FIRST + 1) <= BOUND, f"the first {FIRST} calls: {order}"
    assert [label for label in order if label in ("critical by the call", "high", "normal")] == [
        "critical by the call", "high", "normal"], f"the levels ran out of order: {order}"
    lows = [label for label in order if label.startswith("low-")]
    assert lows == [f"low-{n}" for n in range(len(lows))], f"calls of one level ran out of their order: {order}"
