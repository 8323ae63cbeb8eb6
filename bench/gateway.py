"""Gateway benchmarks, on SQLite and PostgreSQL, against the local fake model server.

* permit overhead: one process acquiring and releasing a permit, p50 and p99 in milliseconds;
* call throughput at 0 ms model latency: the raw ``requests`` call against ``Gateway.chat``, one process in
  a loop, and three processes sharing the 3 permits;
* permit utilization under a burst: 100 calls at once from Celery workers (6 slots, Redis broker) through
  ``@skill`` tasks with a limit of 3 and 300 ms model latency; the fake server measures calls in flight;
* routes and policies (:mod:`bench.gateway_routes`): a policy's evaluation and a routing decision, and calls per
  second through two endpoints against one.

    .venv/bin/python -m bench.gateway [--stores sqlite postgresql] [--parts permits throughput bursts routes]
                                      [--json PATH]

This module is also the workers' task module (``bench.gateway.ask``); it does nothing on import.
"""

from __future__ import annotations

import argparse
import functools
import json
import multiprocessing
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import redis
import requests
from celery.result import ResultSet

from bench import gateway_routes
from bench.common import POSTGRES_URL, ROOT, Report, main, parser, step
from bench.gateway_support import acquire_release, clean, fake, percentile, timed_us
from devtools.fake_model import average_concurrency, spawn
from organism import store
from organism.app import create_app
from organism.errors import Deferred
from organism.gateway.client import Gateway, chat
from organism.local import LocalWorkers
from organism.settings import Settings, load
from organism.skill import skill
from organism.store.db import forget_engines

BROKER_URL = "redis://127.0.0.1:6379/8"
RESULTS_URL = "redis://127.0.0.1:6379/9"
LIMIT = 3
SLOTS = 6
BURST_LATENCY_MS = 300
HELLO = [{"role": "user", "content": "hello"}]
PARTS = ("permits", "throughput", "bursts", "routes")


@skill(organ="perception", name="bench.gateway.ask", effect="read-only")
def ask(prompt: str) -> str:
    """One model call through the gateway (the burst's task)."""
    return chat([{"role": "user", "content": prompt}]).content


def settings_for(url: str, server_url: str) -> Settings:
    return load(database_url=url, gateway={"base_url": server_url, "model": "fake-model", "max_concurrency": LIMIT})


def permit_overhead_ms(url: str, server_url: str, count: int) -> list[float]:
    """Milliseconds per acquire plus release (a transaction each), uncontended, ``count`` times."""
    semaphore = Gateway(settings_for(url, server_url)).routes.route("default").targets[0].semaphore

    once = functools.partial(acquire_release, url, semaphore)
    return [us / 1000 for us in timed_us(once, count)]  # the first call makes the rows and warms the pool


def _loop(index: int, kind: str, url: str, server_url: str, count: int, start_at: float) -> None:
    forget_engines()
    if kind == "raw":
        with requests.Session() as raw:
            time.sleep(max(0.0, start_at - time.time()))
            for _ in range(count):
                raw.post(f"{server_url}/chat/completions", json={"model": "fake-model", "messages": HELLO},
                         timeout=10).json()
        return
    gateway = Gateway(settings_for(url, server_url))
    time.sleep(max(0.0, start_at - time.time()))
    done = 0
    while done < count:
        try:
            gateway.chat(HELLO)
            done += 1
        except Deferred as waiting:
            time.sleep(waiting.wait_s)


def calls_per_s(kind: str, url: str, server_url: str, processes: int, count: int) -> float:
    """Calls per second of ``processes`` processes making ``count`` calls each, started together."""
    context = multiprocessing.get_context("fork")
    start_at = time.time() + 1.0
    workers = [context.Process(target=_loop, args=(i, kind, url, server_url, count, start_at))
               for i in range(processes)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return processes * count / (time.time() - start_at)


@contextmanager
def celery_workers(url: str, server_url: str) -> Iterator[Any]:
    """One worker of ``SLOTS`` prefork children running this module's task against ``url``; its app."""
    env = {"ORGANISM_BROKER_URL": BROKER_URL, "ORGANISM_RESULT_BACKEND": RESULTS_URL, "ORGANISM_DATABASE_URL": url,
           "ORGANISM_TASK_MODULES": json.dumps(["bench.gateway"]), "PYTHONPATH": str(ROOT),
           "ORGANISM_WORKERS__PERCEPTION__CONCURRENCY": str(SLOTS),
           "ORGANISM_GATEWAY__BASE_URL": server_url, "ORGANISM_GATEWAY__MODEL": "fake-model",
           "ORGANISM_GATEWAY__MAX_CONCURRENCY": str(LIMIT)}
    settings = load(broker_url=BROKER_URL, result_backend=RESULTS_URL, database_url=url,
                    task_modules=("bench.gateway",), workers={"perception": {"concurrency": SLOTS}})
    for broker in (BROKER_URL, RESULTS_URL):
        redis.Redis.from_url(broker).flushdb()
    with tempfile.TemporaryDirectory(prefix="organism-bench-gateway-") as tmp, \
            LocalWorkers(settings, env=env, log_dir=Path(tmp), organs=["perception"]):
        app = create_app(settings)
        fake(server_url, "/control", {"latency_ms": 50})  # warm every pool child up, waiting included
        ResultSet([app.send_task("bench.gateway.ask", args=[f"warm-up {i}"]) for i in range(4 * SLOTS)],
                  app=app).get(timeout=60)
        yield app


def burst(app: Any, url: str, server_url: str, calls: int) -> dict[str, float]:
    """Send ``calls`` at once; elapsed time, the ideal time, peak and mean calls in flight while work waited."""
    clean(url)
    fake(server_url, "/reset", {})
    fake(server_url, "/control", {"latency_ms": BURST_LATENCY_MS})
    began = time.perf_counter()
    ResultSet([app.send_task("bench.gateway.ask", args=[f"call {i}"]) for i in range(calls)], app=app).get(
        timeout=120, interval=0.02)
    elapsed = time.perf_counter() - began
    stats = fake(server_url, "/stats")
    return {"elapsed_s": elapsed, "ideal_s": calls * BURST_LATENCY_MS / 1000 / LIMIT, "peak": stats["peak"],
            "mean": average_concurrency([(a, b) for a, b in stats["intervals"]])}


def measure(report: Report) -> None:
    args = report.args
    parts = set(args.parts)
    process, server_url = spawn()
    try:
        with tempfile.TemporaryDirectory(prefix="organism-bench-gateway-store-") as tmp:
            urls = {"sqlite": f"sqlite:///{tmp}/gateway.sqlite", "postgresql": POSTGRES_URL}
            urls = {name: urls[name] for name in args.stores}
            overhead, throughput, bursts = [], [], []
            for name, url in urls.items():
                store.migrate(url)
                clean(url)
                if "permits" in parts:
                    step(f"{name}: permit overhead")
                    samples = permit_overhead_ms(url, server_url, args.permits)
                    overhead.append([name, percentile(samples, 0.5), percentile(samples, 0.99),
                                     statistics.fmean(samples)])
                fake(server_url, "/reset", {})  # 0 ms latency again
                for processes in (1, LIMIT) if "throughput" in parts else ():
                    step(f"{name}: throughput, {processes} process(es)")
                    rates = {kind: calls_per_s(kind, url, server_url, processes, args.calls // processes)
                             for kind in ("raw", "gateway")}
                    throughput.append([name, processes, rates["raw"], rates["gateway"],
                                       f"{rates['gateway'] / rates['raw']:.2f}x"])
                clean(url)
                if "bursts" in parts:
                    step(f"{name}: bursts")
                    with celery_workers(url, server_url) as app:
                        rounds = [burst(app, url, server_url, args.burst) for _ in range(args.rounds)]
                    for figures in rounds:
                        bursts.append([name, args.burst, figures["elapsed_s"], figures["ideal_s"], figures["peak"],
                                       f"{figures['mean']:.2f}", f"{figures['mean'] / LIMIT:.0%}"])
                    clean(url)
            if "routes" in parts:
                gateway_routes.measure(report, urls)
    finally:
        process.terminate()
        process.wait(10)
    if overhead:
        report.table("Permit acquire + release, one process, uncontended",
                     ["store", "p50 (ms)", "p99 (ms)", "mean (ms)"], overhead)
    if throughput:
        report.table(f"Calls per second against the fake server at 0 ms latency ({args.calls} calls per run)",
                     ["store", "processes", "raw requests", "gateway", "gateway vs raw"], throughput,
                     note=f"The gateway runs with {LIMIT} permits: {LIMIT} processes share them without waiting.")
    if bursts:
        report.table(f"Permit utilization: {args.burst} calls at once, limit {LIMIT}, {BURST_LATENCY_MS} ms per "
                     f"call, Celery worker with {SLOTS} slots",
                     ["store", "calls", "elapsed (s)", "ideal (s)", "peak in flight", "mean in flight",
                      "utilization"], bursts,
                     note="Mean in flight is time-weighted between the first and the last arrival at the server, "
                          "while calls were still waiting for permits.")


def arguments() -> argparse.Namespace:
    p = parser(__doc__.split("\n")[0])
    p.add_argument("--stores", nargs="+", choices=("sqlite", "postgresql"), default=["sqlite", "postgresql"])
    p.add_argument("--permits", type=int, default=500, help="acquire/release samples per store (default 500)")
    p.add_argument("--calls", type=int, default=400, help="calls per throughput run (default 400)")
    p.add_argument("--burst", type=int, default=100, help="calls per burst (default 100)")
    p.add_argument("--rounds", type=int, default=2, help="bursts per store (default 2)")
    p.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS), help="what to measure (default: all)")
    p.add_argument("--decisions", type=int, default=5000,
                   help="samples of each policy and pure routing decision (default 5000)")
    p.add_argument("--route-calls", type=int, default=600,
                   help="calls per run through one and two endpoints (default 600)")
    return p.parse_args()


if __name__ == "__main__":
    raise SystemExit(main("bench.gateway", arguments(), measure))
