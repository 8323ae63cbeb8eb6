"""Skills that do nothing, one per organ, and a Daily Sync of the same shape built from them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from organism.skill import skill
from organism.workflows.declaration import Workflow
from organism.workflows.plan import Plan, RunContext
from organism.workflows.registry import declare
from tasks.daily_sync import DAILY_SYNC, DailySyncParams, shape

NOOP_SYNC = "noop-sync"


@skill(organ="perception", name="test.scan")
def scan(sources: list[str], window: dict[str, str]) -> dict[str, Any]:
    return {"quadrant": "q", "items_scanned": len(sources), "findings": [], "window": window}


@skill(organ="relationship", name="test.join")
def join(scans: list[dict[str, Any]]) -> dict[str, Any]:
    return {"parts": len(scans)}


@skill(organ="judgment", name="test.judge")
def judge(synthesis: dict[str, Any]) -> dict[str, Any]:
    return {"evaluation": "noop", "ranking": [], "seen": synthesis}


@skill(organ="evolution", name="test.keep")
def keep(judged: list[dict[str, Any]], run_id: str, key: str, window: dict[str, str]) -> dict[str, Any]:
    return {"run_id": run_id, "key": key, "handed_over": len(judged)}


@skill(organ="perception", name="test.echo")
def echo(value: int, label: str = "x") -> dict[str, Any]:
    """Return its validated arguments, and the organ queue it was delivered from."""
    from celery import current_task

    return {"value": value, "label": label, "queue": current_task.request.delivery_info.get("routing_key")}


@skill(organ="judgment", name="test.held")
def held(gate: str, at_most_s: float = 90) -> dict[str, Any]:
    """Busy until the file ``gate`` exists (the test creates it when it is done with the call), at most
    ``at_most_s``; says whether it was let go."""
    import time
    from pathlib import Path

    deadline = time.monotonic() + at_most_s
    while not Path(gate).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return {"released": Path(gate).exists()}


def sync_like(name: str, build: Callable[[RunContext], Plan]) -> Workflow:
    """Declare a workflow with the Daily Sync's parameters, run key and shape, over the skills ``build`` picks."""
    return declare(Workflow(name=name, params=DailySyncParams, key=DAILY_SYNC.key, build=build))


def build(ctx: RunContext) -> Plan:
    return shape(ctx, {f"q{i}.scan": scan for i in range(1, 5)}, join, {"eval.a": judge, "eval.b": judge}, keep)


sync_like(NOOP_SYNC, build)


def _where() -> dict[str, Any]:
    from celery import current_task

    return {"hostname": current_task.request.hostname}


where = {organ: skill(organ=organ, name=f"test.where_{organ}")(_where)
         for organ in ("perception", "judgment", "relationship", "evolution")}


GATE = "redis://127.0.0.1:6379/10"
FAIL_SYNC = "gated-sync"
ALL_GATED_SYNC = "all-gated-sync"  # its four scans fail while the gate is closed
HANG_SYNC = "hanging-sync"


@skill(organ="perception", name="test.gated_scan", effect="read-only")
def gated_scan(sources: list[str], window: dict[str, str]) -> dict[str, Any]:
    """Fail permanently while the gate is closed (Redis key ``gate`` unset)."""
    import redis

    from organism.errors import PermanentError

    if not redis.Redis.from_url(GATE).get("gate"):
        raise PermanentError("gate closed")
    return {"quadrant": "q2", "items_scanned": 1, "findings": []}


@skill(organ="perception", name="test.slow_scan", effect="read-only")
def slow_scan(sources: list[str], window: dict[str, str]) -> dict[str, Any]:
    """Busy until the test releases its run (tests.support.holds), at most 4 s."""
    from tests.support.holds import hold

    hold(at_most_s=4)
    return {"quadrant": "q1", "items_scanned": 0, "findings": []}


def build_gated(ctx: RunContext) -> Plan:
    scans = {"q1.scan": scan, "q2.gated": gated_scan, "q3.scan": scan, "q4.scan": scan}
    return shape(ctx, scans, join, {"eval.a": judge, "eval.b": judge}, keep)


def build_all_gated(ctx: RunContext) -> Plan:
    scans = {f"q{i}.gated": gated_scan for i in range(1, 5)}
    return shape(ctx, scans, join, {"eval.a": judge, "eval.b": judge}, keep)


def build_hanging(ctx: RunContext) -> Plan:
    scans = {"q1.slow": slow_scan, "q2.scan": scan, "q3.scan": scan, "q4.scan": scan}
    return shape(ctx, scans, join, {"eval.a": judge, "eval.b": judge}, keep)


sync_like(FAIL_SYNC, build_gated)
sync_like(ALL_GATED_SYNC, build_all_gated)
sync_like(HANG_SYNC, build_hanging)
