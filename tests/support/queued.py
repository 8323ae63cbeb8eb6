"""Skills for the priority and expiry tests: each call marks, in a Redis list, that it ran (so the order in which a
worker took calls can be read back), and a workflow with a node that expires if it waits a second for a worker."""

from __future__ import annotations

from typing import Any

import redis

from organism.skill import skill
from organism.workflows.plan import Plan, RunContext
from tasks.daily_sync import shape
from tests.support.faulty import SIDE_EFFECTS
from tests.support.noop import join, judge, keep, scan, sync_like

ORGAN = "evolution"
EXPIRING_SYNC = "expiring-sync"
BRIEF_S = 1.0  # the time to live the short-lived skills declare


def _mark(key: str, label: str) -> str:
    """Append ``label`` to the Redis list ``key``: the order the calls ran in."""
    redis.Redis.from_url(SIDE_EFFECTS).rpush(key, label)
    return label


mark = skill(organ=ORGAN, name="test.mark", effect="idempotent")(_mark)
urgent_mark = skill(organ=ORGAN, name="test.urgent_mark", effect="idempotent", priority="critical")(_mark)
brief_mark = skill(organ=ORGAN, name="test.brief_mark", effect="idempotent", ttl_s=BRIEF_S)(_mark)


@skill(organ=ORGAN, name="test.brief_scan", effect="read-only", ttl_s=BRIEF_S)
def brief_scan(sources: list[str], window: dict[str, str]) -> dict[str, Any]:
    return {"quadrant": "q4", "items_scanned": len(sources), "findings": []}


def build_expiring(ctx: RunContext) -> Plan:
    scans = {"q1.scan": scan, "q2.scan": scan, "q3.scan": scan, "q4.brief": brief_scan}
    return shape(ctx, scans, join, {"eval.a": judge, "eval.b": judge}, keep)


sync_like(EXPIRING_SYNC, build_expiring)
