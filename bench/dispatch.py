"""Skill dispatch against stock Celery and Dramatiq: no-op calls on the same broker, with the same worker count.

One Organism worker serves the perception queue as ``organism worker`` starts it (the organ's defaults, two
slots). Both a raw ``@shared_task`` and an ``@skill(organ="perception")`` are sent to it, alternating; a second
worker, of a Celery app left at Celery's defaults (``bench.stock_app``), serves the same no-op on the same broker
as the reference for what Organism's app configuration costs; on RabbitMQ and Redis, Dramatiq
(``bench.dramatiq_app``, 2 processes x 1 thread, late acks, its defaults) serves the same no-op as a third peer.
Each is measured two ways:

* throughput: send N calls at once, then wait for all N results; calls per second from first send to last result,
  and the CPU each call cost the producer, the workers and RabbitMQ/Redis (from /proc, over the same batches);
* round trip: ``apply_async().get()`` (Dramatiq: ``send().get_result()``) one call at a time; p50 and p95 in ms.

On RabbitMQ the skill is also measured on an organ declared I/O-bound (``bound = "io"``: its defaults, 20 threads
and prefetch 2, as ``organism worker`` starts it), its batches sent in ``confirmed_together``, beside stock Celery
on the same 20 threads; each has a vhost of its own. On Redis the organ's queue is a Redis list that two clusters
would share, so those two rows are left out there.

    .venv/bin/python -m bench.dispatch --profile production
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from contextlib import ExitStack
from functools import partial
from typing import Any

from celery import Celery, Task
from celery.result import ResultSet

from bench.common import (
    POLL_S,
    PROFILES,
    RABBITMQ_VHOST,
    Report,
    Summary,
    alternate,
    cluster,
    dramatiq_cluster,
    main,
    metered,
    parser,
    process_tree,
    round_trip_s,
    service_pids,
    step,
)
from bench.noop_tasks import RAW, SKILL
from bench.stock_app import STOCK_QUEUE
from organism.brokers.confirms import confirmed_together

# (calls per throughput batch, round trips per task, round trips of the stock app) per profile: the embedded
# brokers poll, the stock one once a second, so they get fewer.
DEFAULTS = {"production": (2000, 300, 300), "redis": (2000, 300, 300), "embedded": (200, 100, 10)}
WARMUP = 100
BATCH_TIMEOUT_S = 60
LABELS = {"stock": "stock Celery app (Celery defaults, own worker)", "raw": "raw task, Organism's app",
          "skill": "Organism skill (a publisher confirm per call)",
          "together": "Organism skill, batch sent in confirmed_together (one confirm wait per batch)",
          "io": "Organism skill on an organ declared I/O-bound (20 threads), batch sent in confirmed_together",
          "stock-threads": "stock Celery app on 20 threads (reference for the row above)",
          "dramatiq": "Dramatiq (its defaults, 2 processes x 1 thread)"}
IO_ORGAN = {"ORGANISM_WORKERS__PERCEPTION__BOUND": "io", "ORGANISM_WORKERS__PERCEPTION__CONCURRENCY": "20"}
PARTS = ("producer", "workers", "RabbitMQ + Redis")


def batch_s(app: Celery, task: Task, calls: int, _iteration: int = 0, producer: Any = None) -> float:
    """Seconds from sending ``calls`` no-op calls at once (through ``producer``, default the app's) to holding
    every result."""
    began = time.perf_counter()
    ResultSet([task.apply_async((i,), producer=producer) for i in range(calls)], app=app).get(
        timeout=BATCH_TIMEOUT_S, interval=POLL_S)
    return time.perf_counter() - began


def together_batch_s(app: Celery, task: Task, calls: int, _iteration: int = 0) -> float:
    """:func:`batch_s` with the calls published inside :func:`confirmed_together`: RabbitMQ confirms them all before
    the block ends, with one wait instead of one per call."""
    began = time.perf_counter()
    with confirmed_together(app):  # every publish in the block uses its producer
        sent = [task.apply_async((i,)) for i in range(calls)]
    ResultSet(sent, app=app).get(timeout=BATCH_TIMEOUT_S, interval=POLL_S)
    return time.perf_counter() - began


def trip_s(task: Task, value: int) -> float:
    """Seconds from sending one no-op call to holding its result."""
    return round_trip_s(lambda: task.apply_async((value,)))


def dramatiq_batch_s(actor: Any, calls: int, _iteration: int = 0) -> float:
    """:func:`batch_s` for Dramatiq: ``calls`` messages sent at once, then every result awaited."""
    began = time.perf_counter()
    for message in [actor.send(i) for i in range(calls)]:
        message.get_result(block=True, timeout=BATCH_TIMEOUT_S * 1000)
    return time.perf_counter() - began


def dramatiq_trip_s(actor: Any, value: int) -> float:
    began = time.perf_counter()
    actor.send(value).get_result(block=True, timeout=30_000)
    return time.perf_counter() - began


def measure(report: Report) -> None:
    args = report.args
    calls, samples, stock_samples = (given or default for given, default in zip(
        (args.calls, args.samples, args.stock_samples), DEFAULTS[args.profile], strict=True))
    with ExitStack() as running:
        organism = running.enter_context(
            cluster(args.profile, ["bench.noop_tasks"], ["perception"], with_store=False))
        stock = running.enter_context(cluster(args.profile, ["bench.noop_tasks"], [STOCK_QUEUE], stock=True))
        tasks = {"stock": (stock, stock.app.tasks[RAW]), "raw": (organism, organism.app.tasks[RAW]),
                 "skill": (organism, organism.app.tasks[SKILL])}
        batch = {name: partial(batch_s, on.app, task) for name, (on, task) in tasks.items()}
        trip: dict[str, Callable[[int], float]] = {name: partial(trip_s, task) for name, (_, task) in tasks.items()}
        workers = {name: on.workers for name, (on, _) in tasks.items()}
        batch["together"] = partial(together_batch_s, organism.app, organism.app.tasks[SKILL])
        workers["together"] = organism.workers
        if args.profile == "production":
            io = running.enter_context(cluster(args.profile, ["bench.noop_tasks"], ["perception"], with_store=False,
                                               extra_env=IO_ORGAN, vhost=f"{RABBITMQ_VHOST}_io"))
            threads = running.enter_context(cluster(
                args.profile, ["bench.noop_tasks"], [STOCK_QUEUE], stock=True, vhost=f"{RABBITMQ_VHOST}_threads",
                pool=["-P", "threads", "-c", IO_ORGAN["ORGANISM_WORKERS__PERCEPTION__CONCURRENCY"]]))
            batch["io"] = partial(together_batch_s, io.app, io.app.tasks[SKILL])
            batch["stock-threads"] = partial(batch_s, threads.app, threads.app.tasks[RAW])
            trip |= {"io": partial(trip_s, io.app.tasks[SKILL]),
                     "stock-threads": partial(trip_s, threads.app.tasks[RAW])}
            workers |= {"io": io.workers, "stock-threads": threads.workers}
        if args.profile != "embedded":  # Dramatiq has no SQL broker
            slots = organism.settings.worker("perception").concurrency
            peer = running.enter_context(dramatiq_cluster(organism, processes=slots))
            batch["dramatiq"] = partial(dramatiq_batch_s, peer.actor)
            trip["dramatiq"] = partial(dramatiq_trip_s, peer.actor)
            workers["dramatiq"] = peer.workers
        step("warming up")  # connections, pools, pydantic's validators, the prefork children
        for name in batch:
            batch[name](WARMUP)
        for name in trip:
            for i in range(3):
                trip[name](i)
        cpu: dict[str, dict[str, float]] = {name: {} for name in batch}
        step(f"throughput: {2 * args.rounds} batches of {calls} calls per system")
        batches = alternate({name: metered(partial(send, calls), {
            "producer": lambda: [os.getpid()],
            "workers": lambda w=workers[name]: process_tree([p.pid for p in w.processes.values()]),
            "RabbitMQ + Redis": service_pids}, cpu[name]) for name, send in batch.items()}, 2 * args.rounds)
        step(f"round trips: {samples} per system")
        trips = alternate(trip, samples, {"stock": stock_samples})
    names = list(batch)
    rate = {name: calls * len(seconds) / sum(seconds) for name, seconds in batches.items()}
    spread = {name: f"{calls / max(seconds):.0f}-{calls / min(seconds):.0f}" for name, seconds in batches.items()}
    per_call = {name: {part: 1000 * used / (calls * len(batches[name])) for part, used in cpu[name].items()}
                for name in names}
    lat = {name: Summary.of(seconds) for name, seconds in trips.items()}
    peers = "Organism, stock Celery and Dramatiq" if "dramatiq" in names else "Organism and stock Celery"
    report.table(
        f"Dispatch, {args.profile} profile: {peers}; {2 * args.rounds} batches of {calls} calls per system; "
        f"{samples} round trips per system ({lat['stock'].n} for the stock app)",
        ["system", "throughput (calls/s)", "batches (calls/s)", "vs stock",
         *(["vs Dramatiq"] if "dramatiq" in names else []), "CPU per call (ms)", "round trip p50 (ms)", "p95 (ms)",
         "mean (ms)"],
        [[LABELS[name], rate[name], spread[name], f"{rate[name] / rate['stock']:.2f}x",
          *([f"{rate[name] / rate['dramatiq']:.2f}x"] if "dramatiq" in names else []),
          f"{sum(per_call[name].values()):.2f}",
          *((lat[name].p50_ms, lat[name].p95_ms, lat[name].mean_ms) if name in lat else ("-", "-", "-"))]
         for name in names],
        note="Measurements alternate between the systems (AB BA ...). The raw task and the skill share one "
             "Organism worker on the organ queue. CPU per call: producer (this process), workers (every worker "
             "process) and RabbitMQ + Redis, over the throughput batches. A batch sent together has the single "
             "call's round trip.",
        samples={**{f"{name} batch s": seconds for name, seconds in batches.items()},
                 **{f"{name} round trip s": seconds for name, seconds in trips.items()}})
    report.table(f"CPU per call, {args.profile} profile (ms, over the throughput batches)",
                 ["system", *PARTS, "total"],
                 [[LABELS[name], *(f"{per_call[name].get(part, 0.0):.2f}" for part in PARTS),
                   f"{sum(per_call[name].values()):.2f}"] for name in names])
    ratio = rate["skill"] / rate["raw"]
    extra_ms = lat["skill"].p50_ms - lat["raw"].p50_ms
    versus_stock = max(rate["skill"], rate["together"]) / rate["stock"]
    versus_stock_io = rate["io"] / rate["stock"] if "io" in rate else None
    rows = [["skill throughput >= 0.90x the raw task's (same broker, app and worker)", f"{ratio:.2f}x",
             "yes" if ratio >= 0.9 else "NO"],
            ["skill round trip p50 <= the raw task's + 1 ms", f"{extra_ms:+.2f} ms", "yes" if extra_ms <= 1 else "NO"],
            ["skill throughput >= 1.0x stock Celery on the same broker, every safety setting on: on a CPU-bound "
             "organ (prefork; the better of the two publish paths)",
             f"{versus_stock:.2f}x", "yes" if versus_stock >= 1 else "NO"],
            *([["the same, on an organ declared I/O-bound (threads, confirmed_together)",
                f"{versus_stock_io:.2f}x", "yes" if versus_stock_io >= 1 else "NO"]] if versus_stock_io else []),
            ["(reference) skill round trip p50 vs stock Celery",
             f"{lat['skill'].p50_ms - lat['stock'].p50_ms:+.2f} ms", "-"]]
    if "dramatiq" in names:
        versus_dramatiq = max(rate["skill"], rate["together"]) / rate["dramatiq"]
        rows.append([f"(stretch{'' if args.profile == 'production' else ', set for RabbitMQ'}) skill throughput "
                     ">= 0.8x Dramatiq on the same broker", f"{versus_dramatiq:.2f}x",
                     "yes" if versus_dramatiq >= 0.8 else "NO"])
    report.table(f"Dispatch targets, {args.profile} profile", ["target", "measured", "met"], rows)


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
