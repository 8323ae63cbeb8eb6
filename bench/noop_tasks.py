"""Tasks that do nothing, as raw Celery tasks and as Organism skills, so both run on the same workers.

The raw Daily-Sync-shaped tasks have the bodies of ``tests/support/noop.py`` and are routed to the same organ
queues, so a raw canvas crosses the same workers as Organism's ``noop-sync`` run.
"""

from __future__ import annotations

from typing import Any

from celery import Celery, Signature, chain, chord, shared_task

from organism.skill import skill

RAW = "bench.raw_noop"
SKILL = "bench.skill_noop"
SENSITIVE = "bench.sensitive_noop"  # the same, declared sensitive: its arguments sealed (bench/payloads.py)
# (scan, join, judge, keep, hand on): the task names a Daily-Sync-shaped canvas is built from.
RAW_SHAPE = ("bench.raw_scan", "bench.raw_join", "bench.raw_judge", "bench.raw_keep", "bench.raw_hand_on")
SKILL_SHAPE = ("test.scan", "test.join", "test.judge", "test.keep", "organism.hand_on")  # tests/support/noop.py


@shared_task(name=RAW)
def raw_noop(value: int = 0) -> int:
    return value


@skill(organ="perception", name=SKILL)
def skill_noop(value: int = 0) -> int:
    return value


@skill(organ="perception", name=SENSITIVE, sensitive=True)
def sensitive_noop(value: Any = 0) -> Any:
    return value


@shared_task(name=RAW_SHAPE[0], queue="perception")
def raw_scan(sources: list[str], window: dict[str, str]) -> dict[str, Any]:
    return {"quadrant": "q", "items_scanned": len(sources), "findings": [], "window": window}


@shared_task(name=RAW_SHAPE[1], queue="relationship")
def raw_join(scans: list[dict[str, Any]]) -> dict[str, Any]:
    return {"parts": len(scans)}


@shared_task(name=RAW_SHAPE[2], queue="judgment")
def raw_judge(synthesis: dict[str, Any]) -> dict[str, Any]:
    return {"evaluation": "noop", "ranking": [], "seen": synthesis}


@shared_task(name=RAW_SHAPE[3], queue="evolution")
def raw_keep(judged: list[dict[str, Any]], run_id: str, key: str, window: dict[str, str]) -> dict[str, Any]:
    return {"run_id": run_id, "key": key, "handed_over": len(judged)}


@shared_task(name=RAW_SHAPE[4], queue="evolution")
def raw_hand_on(value: Any) -> Any:
    return value


def daily_sync_canvas(app: Celery, shape: tuple[str, ...], sources: list[str], window: dict[str, str],
                      run_id: str) -> Signature:
    """The Daily Sync's canvas (``tasks.daily_sync.shape``) without a run: nothing is tracked in the store.

    Tasks are looked up on ``app`` so the canvas goes to that app's broker whichever app is current.
    """
    scan, join, judge, keep, hand_on = (app.tasks[name] for name in shape)
    handed_on = hand_on.s().set(queue="evolution", routing_key="evolution")  # as tasks.daily_sync.shape routes it
    return chain(chord([scan.s(sources, window) for _ in range(4)], join.s()),
                 chord([*(judge.s() for _ in range(2)), handed_on],
                       keep.s(run_id=run_id, key=f"bench:{run_id}", window=window)))
