"""Skill dispatch against raw Celery: no-op calls on the same broker and the same worker process.

One worker of two prefork children serves the perception queue. Both a raw ``@shared_task`` and an
``@skill(organ="perception")`` are sent to it, alternating; a third worker, of a Celery app left at Celery's
defaults (``bench.stock_app``), serves the same no-op on the same broker as the reference for what Organism's
app configuration costs. Each is measured two ways:

* throughput: send N calls at once, then wait for all N results; calls per second from first send to last result;
* round trip: ``apply_async().get()`` one call at a time; p50 and p95 in milliseconds.

    .venv/bin/python -m bench.dispatch --profile production
"""

from __future__ import annotations

import argparse
import time
from functools import partial

from celery import Celery, Task
from celery.result import ResultSet

from bench.common import (
    POLL_S,
    PROFILES,
    Report,
    Summary,
    alternate,
    cluster,
    main,
    parser,
    round_trip_s,
    step,
)
from bench.noop_tasks import RAW, SKILL
from bench.stock_app import STOCK_QUEUE

# (calls per throughput batch, round trips per task, round trips of the stock app) per profile: the embedded
# brokers poll, the stock one once a second, so they get fewer.
DEFAULTS = {"production": (2000, 300, 300), "redis": (2000, 300, 300), "embedded": (200, 100, 10)}
WARMUP = 100
BATCH_TIMEOUT_S = 60
LABELS = {"stock": "stock Celery app (Celery defaults, own worker)", "raw": "raw task, Organism's app",
          "skill": "Organism skill"}


def batch_s(app: Celery, task: Task, calls: int, _iteration: int = 0) -> float:
    """Seconds from sending ``calls`` no-op calls at once to holding every result."""
    began = time.perf_counter()
    ResultSet([task.apply_async((i,)) for i in range(calls)], app=app).get(
        timeout=BATCH_TIMEOUT_S, interval=POLL_S)
    return time.perf_counter() - began


def trip_s(task: Task, value: int) -> float:
    """Seconds from sending one no-op call to holding its result."""
    return round_trip_s(lambda: task.apply_async((value,)))


def measure(report: Report) -> None:
    args = report.args
    calls, samples, stock_samples = (given or default for given, default in zip(
        (args.calls, args.samples, args.stock_samples), DEFAULTS[args.profile], strict=True))
    with (cluster(args.profile, ["bench.noop_tasks"], ["perception"], with_store=False) as organism,
          cluster(args.profile, ["bench.noop_tasks"], [STOCK_QUEUE], stock=True) as stock):
        apps = {"stock": stock.app, "raw": organism.app, "skill": organism.app}
        tasks = {"stock": stock.app.tasks[RAW], "raw": organism.app.tasks[RAW], "skill": organism.app.tasks[SKILL]}
        step("warming up")  # connections, pools, pydantic's validators, the prefork children
        for name, task in tasks.items():
            batch_s(apps[name], task, WARMUP)
            for i in range(3):
                trip_s(task, i)
        step(f"throughput: {2 * args.rounds} batches of {calls} calls per task")
        batches = alternate({name: partial(batch_s, apps[name], task, calls) for name, task in tasks.items()},
                            2 * args.rounds)
        step(f"round trips: {samples} per task")
        trips = alternate({name: partial(trip_s, task) for name, task in tasks.items()}, samples,
                          {"stock": stock_samples})
    rate = {name: calls * len(seconds) / sum(seconds) for name, seconds in batches.items()}
    spread = {name: f"{calls / max(seconds):.0f}-{calls / min(seconds):.0f}" for name, seconds in batches.items()}
    lat = {name: Summary.of(seconds) for name, seconds in trips.items()}
    report.table(
        f"Dispatch, {args.profile} profile: {2 * args.rounds} batches of {calls} calls per task; "
        f"{samples} round trips per task ({lat['stock'].n} for the stock app)",
        ["task", "throughput (calls/s)", "batches (calls/s)", "vs stock", "round trip p50 (ms)", "p95 (ms)",
         "mean (ms)"],
        [[LABELS[name], rate[name], spread[name], f"{rate[name] / rate['stock']:.2f}x", lat[name].p50_ms,
          lat[name].p95_ms, lat[name].mean_ms] for name in tasks],
        note="Measurements alternate between the three tasks (AB BA ...). The raw task and the skill share one "
             "worker process (2 prefork children) on the organ queue.",
        samples={**{f"{name} batch s": seconds for name, seconds in batches.items()},
                 **{f"{name} round trip s": seconds for name, seconds in trips.items()}})
    ratio = rate["skill"] / rate["raw"]
    extra_ms = lat["skill"].p50_ms - lat["raw"].p50_ms
    report.table(
        f"Dispatch targets, {args.profile} profile",
        ["target", "measured", "met"],
        [["skill throughput >= 0.90x the raw task's (same broker, app and worker)", f"{ratio:.2f}x",
          "yes" if ratio >= 0.9 else "NO"],
         ["skill round trip p50 <= the raw task's + 1 ms", f"{extra_ms:+.2f} ms", "yes" if extra_ms <= 1 else "NO"],
         ["(reference) skill throughput vs stock Celery on the same broker",
          f"{rate['skill'] / rate['stock']:.2f}x", "-"],
         ["(reference) skill round trip p50 vs stock Celery", f"{lat['skill'].p50_ms - lat['stock'].p50_ms:+.2f} ms",
          "-"]])


def arguments() -> argparse.Namespace:
    p = parser(__doc__.split("\n")[0])
    p.add_argument("--profile", choices=PROFILES, default="production")
    p.add_argument("--calls", type=int, help="calls per throughput batch (default 2000; 200 on embedded)")
    p.add_argument("--rounds", type=int, default=2, help="throughput batches per task, times two (default 2)")
    p.add_argument("--samples", type=int, help="round trips per task (default 300; 100 on embedded)")
    p.add_argument("--stock-samples", type=int, help="round trips of the stock app (default 300; 10 on embedded)")
    return p.parse_args()


if __name__ == "__main__":
    raise SystemExit(main("bench.dispatch", arguments(), measure))
