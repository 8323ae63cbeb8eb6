"""Skills that do nothing, one per organ, and a Daily Sync of the same shape built from them."""

from __future__ import annotations

from typing import Any

from organism.skill import skill
from organism.workflows.runs import Plan, RunContext, register
from tasks.daily_sync import shape

NOOP_SYNC = "noop-sync"


@skill(organ="perception", name="test.scan")
def scan(sources: list[str]) -> dict[str, Any]:
    return {"quadrant": "q", "items_scanned": len(sources), "findings": []}


@skill(organ="relationship", name="test.join")
def join(scans: list[dict[str, Any]]) -> dict[str, Any]:
    return {"parts": len(scans)}


@skill(organ="judgment", name="test.judge")
def judge(synthesis: dict[str, Any]) -> dict[str, Any]:
    return {"evaluation": "noop", "ranking": [], "seen": synthesis}


@skill(organ="evolution", name="test.keep")
def keep(evaluations: list[dict[str, Any]], run_id: str) -> dict[str, Any]:
    return {"run_id": run_id, "evaluations": len(evaluations)}


@skill(organ="perception", name="test.echo")
def echo(value: int, label: str = "x") -> dict[str, Any]:
    """Return its validated arguments, and the organ queue it was delivered from."""
    from celery import current_task

    return {"value": value, "label": label, "queue": current_task.request.delivery_info.get("routing_key")}


@register(NOOP_SYNC)
def build(ctx: RunContext) -> Plan:
    return shape(ctx, {f"q{i}.scan": scan for i in range(1, 5)}, join, {"eval.a": judge, "eval.b": judge}, keep)


def _where() -> dict[str, Any]:
    from celery import current_task

    return {"hostname": current_task.request.hostname}


where = {organ: skill(organ=organ, name=f"test.where_{organ}")(_where)
         for organ in ("perception", "judgment", "relationship", "evolution")}


GATE = "redis://127.0.0.1:6379/10"
FAIL_SYNC = "gated-sync"
HANG_SYNC = "hanging-sync"


@skill(organ="perception", name="test.gated_scan", effect="read-only")
def gated_scan(sources: list[str]) -> dict[str, Any]:
    """Fail permanently while the gate is closed (Redis key ``gate`` unset)."""
    import redis

    from organism.errors import PermanentError

    if not redis.Redis.from_url(GATE).get("gate"):
        raise PermanentError("gate closed")
    return {"quadrant": "q2", "items_scanned": 1, "findings": []}


@skill(organ="perception", name="test.slow_scan", effect="read-only")
def slow_scan(sources: list[str]) -> dict[str, Any]:
    """Busy until the test releases its run (tests.support.holds), at most 4 s."""
    from tests.support.holds import hold

    hold(at_most_s=4)
    return {"quadrant": "q1", "items_scanned": 0, "findings": []}


@register(FAIL_SYNC)
def build_gated(ctx: RunContext) -> Plan:
    scans = {"q1.scan": scan, "q2.gated": gated_scan, "q3.scan": scan, "q4.scan": scan}
    return shape(ctx, scans, join, {"eval.a": judge, "eval.b": judge}, keep)


@register(HANG_SYNC)
def build_hanging(ctx: RunContext) -> Plan:
    scans = {"q1.slow": slow_scan, "q2.scan": scan, "q3.scan": scan, "q4.scan": scan}
    return shape(ctx, scans, join, {"eval.a": judge, "eval.b": judge}, keep)
