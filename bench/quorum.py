"""What quorum organ queues cost: the no-op skill on classic and on quorum queues, same RabbitMQ, same worker.

Two Organism clusters run at once, each with one worker serving ``perception`` as ``organism worker`` starts it
(two prefork slots): one on classic queues (vhost ``organism_bench``), one with ``rabbitmq_queue_type = "quorum"``
(vhost ``organism_bench_quorum``: a queue keeps its type for life). Measured alternately, as bench.dispatch does:
throughput (N calls sent at once, until all N results are back), the CPU each call cost the workers and
RabbitMQ + Redis, and round trips one call at a time.

    .venv/bin/python -m bench.quorum
"""

from __future__ import annotations

import argparse
from contextlib import ExitStack
from functools import partial

from bench.common import (
    Report,
    Summary,
    alternate,
    cluster,
    main,
    metered,
    parser,
    process_tree,
    service_pids,
)
from bench.dispatch import WARMUP, batch_s, trip_s
from bench.noop_tasks import SKILL
from organism.local import LocalWorkers

LABELS = {"classic": "classic queues (x-max-priority 10)", "quorum": "quorum queues (at-least-once dead letters)"}
PARTS = ("workers", "RabbitMQ + Redis")


def worker_pids(workers: LocalWorkers) -> list[int]:
    """The worker processes and their pool processes."""
    return process_tree([process.pid for process in workers.processes.values()])


def measure(report: Report) -> None:
    args = report.args
    with ExitStack() as running:
        clusters = {
            "classic": running.enter_context(cluster("production", ["bench.noop_tasks"], ["perception"],
                                                     with_store=False)),
            "quorum": running.enter_context(cluster("production", ["bench.noop_tasks"], ["perception"],
                                                    with_store=False, vhost="organism_bench_quorum",
                                                    extra_env={"ORGANISM_RABBITMQ_QUEUE_TYPE": "quorum"}))}
        tasks = {name: on.app.tasks[SKILL] for name, on in clusters.items()}
        for name, task in tasks.items():  # connections, pools, pydantic's validators, the prefork children
            batch_s(clusters[name].app, task, WARMUP)
        cpu: dict[str, dict[str, float]] = {name: {} for name in clusters}
        batches = alternate({name: metered(partial(batch_s, on.app, tasks[name], args.calls), {
            "workers": partial(worker_pids, on.workers),
            "RabbitMQ + Redis": service_pids}, cpu[name]) for name, on in clusters.items()}, 2 * args.rounds)
        trips = alternate({name: partial(trip_s, task) for name, task in tasks.items()}, args.samples)
    rate = {name: args.calls * len(seconds) / sum(seconds) for name, seconds in batches.items()}
    per_call = {name: {part: 1000 * used / (args.calls * len(batches[name])) for part, used in cpu[name].items()}
                for name in clusters}
    lat = {name: Summary.of(seconds) for name, seconds in trips.items()}
    report.table(
        f"Quorum queues: the no-op skill, {2 * args.rounds} batches of {args.calls} calls and {args.samples} round "
        "trips per queue type",
        ["organ queues", "throughput (calls/s)", "vs classic", *(f"CPU {part} (ms/call)" for part in PARTS),
         "round trip p50 (ms)", "p95 (ms)"],
        [[LABELS[name], rate[name], f"{rate[name] / rate['classic']:.2f}x",
          *(round(per_call[name].get(part, 0.0), 2) for part in PARTS), lat[name].p50_ms, lat[name].p95_ms]
         for name in clusters],
        note="Measurements alternate between the queue types (AB BA ...); one RabbitMQ node, so the quorum queue's "
             "Raft log is written but not replicated.",
        samples={**{f"{name} batch s": seconds for name, seconds in batches.items()},
                 **{f"{name} round trip s": seconds for name, seconds in trips.items()}})


def arguments() -> argparse.Namespace:
    p = parser(__doc__.split("\n")[0])
    p.add_argument("--calls", type=int, default=2000, help="calls per throughput batch (default 2000)")
    p.add_argument("--rounds", type=int, default=2, help="throughput batches per queue type, times two (default 2)")
    p.add_argument("--samples", type=int, default=300, help="round trips per queue type (default 300)")
    return p.parse_args()


if __name__ == "__main__":
    raise SystemExit(main("bench.quorum", arguments(), measure))
