"""I/O-bound skills: Organism's I/O organ against stock Celery and Dramatiq, each waiting on I/O in many slots.

Two parts, each its own run (``--part``):

* ``wait``, the shape of a published comparison of Python task queues (one worker process, 10 at a time, 1,000
  tasks that each wait 100 ms: a ceiling of 100 tasks/s; Celery 71.7/s and Taskiq 97.9/s there): a skill of an organ
  declared I/O-bound (``bound = "io"``, so a threads pool and its bound's prefetch) with concurrency 10; the same
  with prefetch 1; stock Celery (``bench.stock_app``, Celery's defaults) on threads and on prefork, 10 each; Dramatiq,
  1 process x 10 threads.
* ``http``: each call spends 200 ms in an HTTP request to a local server (``devtools.fake_model --latency-ms 200``,
  its own process), 50 at a time on this host: a ceiling of 250 calls/s. The I/O organ with concurrency 50 in one
  process and in two of 25; stock Celery and Dramatiq in the same two shapes; and 50 bare threads asking the server
  with no queue at all, what this machine can do.

Calls per second from sending a batch at once to holding every result; resident memory (RSS) of each worker
process after the batches, and the CPU each call cost the workers. RabbitMQ (vhost ``organism_bench_io``), results
in Redis database 2: a run of its own, beside other benchmarks.

    .venv/bin/python -m bench.io_bound --part wait
    .venv/bin/python -m bench.io_bound --part http
"""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from celery.result import ResultSet

from bench.common import (
    POLL_S,
    RABBITMQ_VHOST,
    Report,
    cluster,
    cpu_s,
    dramatiq_cluster,
    main,
    parser,
    process_tree,
    step,
)
from bench.io_tasks import HTTP, ORGAN, RAW_HTTP, RAW_WAIT, WAIT, ask
from bench.stock_app import STOCK_QUEUE
from devtools.fake_model import spawn

MODULES = ["bench.noop_tasks", "bench.io_tasks"]
# A vhost and a result database of its own: other benchmarks may run on organism_bench and Redis 15 meanwhile, and
# a cluster starting there purges its queues and empties its result database.
VHOST = f"{RABBITMQ_VHOST}_io"
RESULTS = {"ORGANISM_RESULT_BACKEND": "redis://127.0.0.1:6379/2"}
BATCH_TIMEOUT_S = 120


@dataclass(frozen=True)
class Shape:
    """A part's workload: ``calls`` calls of ``latency_s`` each, ``slots`` at a time on one host."""

    calls: int
    latency_s: float
    slots: int

    @property
    def ceiling(self) -> float:
        return self.slots / self.latency_s


SHAPES = {"wait": Shape(1000, 0.1, 10), "http": Shape(2000, 0.2, 50)}


@dataclass
class Measured:
    system: str
    seconds: list[float]
    calls: int
    rss_mb: list[float]
    cpu_ms: float | None

    @property
    def rate(self) -> float:
        return self.calls * len(self.seconds) / sum(self.seconds)


def rss_mb(pid: int) -> float:
    """The resident memory of process ``pid`` in MB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def measure_batches(system: str, send: Callable[[], list[Any]], wait: Callable[[list[Any]], None], calls: int,
                    rounds: int, pids: Callable[[], list[int]]) -> Measured:
    """``rounds`` batches of ``calls``: each sent at once, then every result awaited."""
    step(f"{system}: {rounds} batches of {calls}")
    seconds, used = [], 0.0
    for _ in range(rounds):
        found = pids()
        before = cpu_s(found)
        began = time.perf_counter()
        wait(send())
        seconds.append(time.perf_counter() - began)
        used += cpu_s(found) - before
    found = pids()
    return Measured(system, seconds, calls, [rss_mb(pid) for pid in found], 1000 * used / (calls * rounds))


def celery_batches(system: str, app: Any, task: Any, args: tuple[Any, ...], calls: int, rounds: int,
                   workers: Any) -> Measured:
    ResultSet([task.apply_async(args) for _ in range(20)], app=app).get(timeout=BATCH_TIMEOUT_S, interval=POLL_S)
    return measure_batches(
        system, lambda: [task.apply_async(args) for _ in range(calls)],
        lambda sent: ResultSet(sent, app=app).get(timeout=BATCH_TIMEOUT_S, interval=POLL_S), calls, rounds,
        lambda: process_tree([p.pid for p in workers.processes.values()]))


def dramatiq_batches(system: str, actor: Any, args: tuple[Any, ...], calls: int, rounds: int,
                     workers: Any) -> Measured:
    def wait(sent: list[Any]) -> None:
        for message in sent:
            message.get_result(block=True, timeout=BATCH_TIMEOUT_S * 1000)

    wait([actor.send(*args) for _ in range(20)])
    return measure_batches(system, lambda: [actor.send(*args) for _ in range(calls)], wait, calls, rounds,
                           lambda: process_tree([p.pid for p in workers.processes.values()]))


def bare_client(base_url: str, shape: Shape, rounds: int) -> Measured:
    """``shape.slots`` threads asking the server ``shape.calls`` times in all, with no queue: the machine's own
    ceiling for this workload."""

    def batch() -> list[Any]:
        left, lock = [shape.calls], threading.Lock()

        def work() -> None:
            while True:
                with lock:
                    if not left[0]:
                        return
                    left[0] -= 1
                ask(base_url)

        threads = [threading.Thread(target=work) for _ in range(shape.slots)]
        for thread in threads:
            thread.start()
        return threads

    def joined(threads: list[Any]) -> None:
        for thread in threads:
            thread.join()

    return measure_batches(f"{shape.slots} bare threads, no queue", batch, joined, shape.calls, rounds, lambda: [])


def io_env(concurrency: int, prefetch: int | None = None) -> dict[str, str]:
    """The judgment organ declared I/O-bound, with ``concurrency`` threads (and ``prefetch``, else its bound's)."""
    env = RESULTS | {"ORGANISM_WORKERS__JUDGMENT__BOUND": "io",
                     "ORGANISM_WORKERS__JUDGMENT__CONCURRENCY": str(concurrency)}
    return env | ({"ORGANISM_WORKERS__JUDGMENT__PREFETCH": str(prefetch)} if prefetch else {})


@contextmanager
def model_server(shape: Shape) -> Iterator[str]:
    process, url = spawn("--latency-ms", f"{shape.latency_s * 1000:g}")
    try:
        yield url
    finally:
        process.terminate()
        process.wait()


def measure(report: Report) -> None:
    args = report.args
    shape = SHAPES[args.part]
    calls, rounds, profile = args.calls or shape.calls, args.rounds, args.profile
    results: list[Measured] = []
    with ExitStack() as running:
        if args.part == "wait":
            skill_args: tuple[Any, ...] = (shape.latency_s,)
            skill, raw, actor_name = WAIT, RAW_WAIT, "bench_io_wait"
        else:
            skill_args = (running.enter_context(model_server(shape)),)
            skill, raw, actor_name = HTTP, RAW_HTTP, "bench_io_http"
        splits = [(1, shape.slots)] + ([(2, shape.slots // 2)] if args.part == "http" else [])
        for processes, threads in splits:
            with cluster(profile, MODULES, [ORGAN], with_store=False, extra_env=io_env(threads),
                         vhost=VHOST, processes=processes) as organism:
                worker = organism.settings.worker(ORGAN)
                results.append(celery_batches(
                    f"Organism skill, I/O organ: {processes} x {worker.pool} {threads}, prefetch {worker.prefetch}",
                    organism.app, organism.app.tasks[skill], skill_args, calls, rounds, organism.workers))
                for pool in ["threads"] + (["prefork"] if args.part == "wait" else []):
                    with cluster(profile, MODULES, [STOCK_QUEUE], stock=True, extra_env=RESULTS, vhost=VHOST,
                                 processes=processes, pool=["-P", pool, "-c", str(threads)]) as stock:
                        results.append(celery_batches(
                            f"stock Celery: {processes} x {pool} {threads}, its defaults", stock.app,
                            stock.app.tasks[raw], skill_args, calls, rounds, stock.workers))
                if args.dramatiq:
                    with dramatiq_cluster(organism, processes=processes, threads=threads,
                                          modules=("bench.dramatiq_io",)) as peer:
                        from bench import dramatiq_io

                        actor = dramatiq_io.actors(peer.actor.broker)[actor_name]
                        results.append(dramatiq_batches(f"Dramatiq: {processes} x {threads} threads, its defaults",
                                                        actor, skill_args, calls, rounds, peer.workers))
        if args.part == "http":
            results.append(bare_client(skill_args[0], shape, rounds))
        else:
            with cluster(profile, MODULES, [ORGAN], with_store=False, extra_env=io_env(shape.slots, 1),
                         vhost=VHOST) as lever:
                results.append(celery_batches(
                    f"Organism skill, I/O organ: 1 x threads {shape.slots}, prefetch 1", lever.app,
                    lever.app.tasks[skill], skill_args, calls, rounds, lever.workers))
    stock_rate = next(r.rate for r in results if r.system.startswith("stock Celery: 1 x threads"))
    report.table(
        f"I/O-bound, {args.part}: {rounds} batches of {calls} calls, each {shape.latency_s * 1000:g} ms of "
        f"{'waiting' if args.part == 'wait' else 'HTTP'}, {shape.slots} at a time: ceiling {shape.ceiling:g}/s",
        ["system", "calls/s", "batches (calls/s)", "of the ceiling", "vs stock Celery (threads)",
         "worker RSS per process (MB)", "worker CPU per call (ms)"],
        [[r.system, r.rate, ", ".join(f"{calls / s:.1f}" for s in r.seconds), f"{r.rate / shape.ceiling:.1%}",
          f"{r.rate / stock_rate:.2f}x", " + ".join(f"{mb:.0f}" for mb in r.rss_mb) or "-",
          "-" if not r.rss_mb else f"{r.cpu_ms:.2f}"] for r in results],
        note="One system at a time, each on workers of its own (the others' idle). RSS after the batches: the "
             "worker's main process, then its pool processes (prefork) or Dramatiq's worker process.",
        samples={r.system: r.seconds for r in results})
    target = 0.95 * shape.ceiling if args.part == "wait" else 0.9 * shape.ceiling
    report.table(f"I/O-bound target, {args.part}", ["target", "measured", "met"],
                 [[f"{r.system} >= {target:g} calls/s", f"{r.rate:.1f}", "yes" if r.rate >= target else "NO"]
                  for r in results if r.system.startswith("Organism")])


def arguments() -> argparse.Namespace:
    p = parser(__doc__.split("\n")[0])
    p.add_argument("--part", choices=tuple(SHAPES), default="wait")
    p.add_argument("--profile", choices=("production", "redis"), default="production")
    p.add_argument("--calls", type=int, help="calls per batch (default 1000 for wait, 2000 for http)")
    p.add_argument("--rounds", type=int, default=2, help="batches per system (default 2)")
    p.add_argument("--no-dramatiq", dest="dramatiq", action="store_false", help="leave Dramatiq out")
    p.set_defaults(time_limit=420)  # six or seven clusters, each with its batches and its start and stop
    return p.parse_args()


if __name__ == "__main__":
    raise SystemExit(main("bench.io_bound", arguments(), measure))
