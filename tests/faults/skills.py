"""Skills and workflows for the fault tests: work that leaves countable traces, and scans that die on purpose.

Every trace goes to Redis database 10 (:data:`TRACES`) under a key that names the test's own prefix or run, so
two tests never read each other's traces. The workers import this module through ``ORGANISM_TASK_MODULES``.
"""

from __future__ import annotations

import json
import os
import signal
import time
from typing import Any

import redis
from celery import current_task, signals

from organism.headers import RUN_HEADER
from organism.skill import skill
from organism.workflows.plan import Plan, RunContext
from tasks.daily_sync import shape
from tests.support.holds import hold, hold_until
from tests.support.noop import judge, keep, sync_like

TRACES = "redis://127.0.0.1:6379/10"
SLOW_SYNC = "faults-slow-sync"
KILLED_HEADER_SYNC = "faults-killed-header-sync"
KILLED_WORKER_SYNC = "faults-killed-worker-sync"


def traces() -> redis.Redis:
    return redis.Redis.from_url(TRACES, decode_responses=True)


# -- 500 calls in flight ----------------------------------------------------------------------------------------

@skill(organ="perception", name="faults.apply", effect="idempotent")
def apply(prefix: str, key: str, work_s: float) -> str:
    """Work ``work_s``, then apply the idempotent effect of ``key``: membership of the set ``<prefix>:effect``.

    ``<prefix>:started`` and ``<prefix>:finished`` are append-only: they count executions begun and bodies
    completed, so a redelivered call that runs again shows up there, while the set shows each effect once.
    ``<prefix>:busy`` maps a pool process to the key it is working on, so a test can kill it mid-task.
    """
    pid = str(os.getpid())
    begin = traces().pipeline()
    begin.rpush(f"{prefix}:started", key)
    begin.hset(f"{prefix}:busy", pid, key)
    begin.execute()
    time.sleep(work_s)
    end = traces().pipeline()
    end.rpush(f"{prefix}:finished", key)
    end.sadd(f"{prefix}:effect", key)
    end.hdel(f"{prefix}:busy", pid)
    end.execute()
    return key


# -- a Daily Sync whose scans take long enough to restart a service under them ----------------------------------

@skill(organ="perception", name="faults.slow_scan", effect="read-only")
def slow_scan(sources: list[str], window: dict[str, str]) -> dict[str, Any]:
    hold(at_most_s=3)  # until the test has taken the service down and releases the run
    return {"quadrant": "q", "items_scanned": len(sources), "findings": []}


@skill(organ="relationship", name="faults.count_join")
def count_join(scans: list[dict[str, Any]]) -> dict[str, Any]:
    """The chord body: record that it ran, when, and what it was given (``<run>:join``)."""
    run_id = getattr(current_task.request, RUN_HEADER, None)
    traces().rpush(f"{run_id}:join", json.dumps({"at": time.time(), "scans": scans}))
    return {"parts": len(scans)}


def build_slow(ctx: RunContext) -> Plan:
    return shape(ctx, {f"q{i}.slow": slow_scan for i in range(1, 5)}, count_join, {"eval.a": judge, "eval.b": judge},
                 keep)


# -- chord headers killed after their work, before their ack -----------------------------------------------------

def _scanned(kind: str, work_s: float) -> dict[str, Any]:
    """Do a scan's work and record it (``<run>:scans``). The result names the task and this delivery of it, so
    a second delivery's result differs from the first's (the text a chord counter would see twice)."""
    time.sleep(work_s)
    return _record(kind)


def _record(kind: str) -> dict[str, Any]:
    request = current_task.request
    run_id = getattr(request, RUN_HEADER, None)
    delivery = traces().incr(f"{run_id}:{request.id}:deliveries")
    done = {"kind": kind, "task_id": request.id, "delivery": delivery, "pid": os.getpid()}
    traces().rpush(f"{run_id}:scans", json.dumps({**done, "at": time.time()}))
    return {"quadrant": kind, "items_scanned": 1, "findings": [], **done}


@skill(organ="perception", name="faults.scan", effect="read-only")
def scan(sources: list[str], window: dict[str, str]) -> dict[str, Any]:
    return _scanned("plain", 0.2)


@skill(organ="perception", name="faults.slowest_scan", effect="read-only")
def slowest_scan(sources: list[str], window: dict[str, str]) -> dict[str, Any]:
    """The last scan to finish: it waits until the run's three other scans have each recorded an execution (at
    most 20 s), so a chord body that started before it would have started early."""
    request = current_task.request
    run_id = getattr(request, RUN_HEADER, None)

    def others_recorded() -> bool:
        records = [json.loads(one) for one in traces().lrange(f"{run_id}:scans", 0, -1)]
        return len({one["task_id"] for one in records} - {request.id}) >= 3

    hold_until(others_recorded, at_most_s=20)
    return _record("slowest")


@skill(organ="perception", name="faults.scan_dies_before_result", effect="read-only")
def scan_dies_before_result(sources: list[str], window: dict[str, str]) -> dict[str, Any]:
    """Do the work, record it, then SIGKILL this pool process on the first delivery (before any result exists)."""
    result = _scanned("dies-before-result", 0.1)
    if result["delivery"] == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    return result


@skill(organ="perception", name="faults.scan_dies_after_result", effect="read-only")
def scan_dies_after_result(sources: list[str], window: dict[str, str]) -> dict[str, Any]:
    """Do the work and return; on the first delivery its pool process dies after Celery stored the result and
    counted it for the chord, before the main process acked the message (see :func:`_die_after_result`)."""
    return _scanned("dies-after-result", 0.1)


@skill(organ="perception", name="faults.scan_kills_worker_after_result", effect="read-only")
def scan_kills_worker_after_result(sources: list[str], window: dict[str, str]) -> dict[str, Any]:
    """Do the work and return; on the first delivery the worker's main process dies once the result is stored
    and counted: the message was never acked, so the broker delivers it again."""
    return _scanned("kills-worker-after-result", 0.1)


@signals.task_postrun.connect(weak=False)
def _die_after_result(task_id: str, task: Any, retval: Any = None, state: str | None = None, **_: Any) -> None:
    # task_postrun runs in the pool process after the result is stored and the chord counter incremented; a
    # late ack is sent by the main process only when the pool process reports back.
    if state != "SUCCESS" or not isinstance(retval, dict) or retval.get("delivery") != 1:
        return
    if task.name == "faults.scan_dies_after_result":
        os.kill(os.getpid(), signal.SIGKILL)
    elif task.name == "faults.scan_kills_worker_after_result":
        os.kill(os.getppid(), signal.SIGKILL)


def build_killed_header(ctx: RunContext) -> Plan:
    scans = {"q1.plain": scan, "q2.dies_before_result": scan_dies_before_result,
             "q3.dies_after_result": scan_dies_after_result, "q4.slowest": slowest_scan}
    return shape(ctx, scans, count_join, {"eval.a": judge, "eval.b": judge}, keep)


def build_killed_worker(ctx: RunContext) -> Plan:
    scans = {"q1.plain": scan, "q2.kills_worker_after_result": scan_kills_worker_after_result,
             "q3.plain": scan, "q4.slowest": slowest_scan}
    return shape(ctx, scans, count_join, {"eval.a": judge, "eval.b": judge}, keep)


sync_like(SLOW_SYNC, build_slow)
sync_like(KILLED_HEADER_SYNC, build_killed_header)
sync_like(KILLED_WORKER_SYNC, build_killed_worker)
