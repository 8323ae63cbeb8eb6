"""Side-by-side benchmarks of no-op calls: systems measured alternately (AB BA ...), one table against a baseline.

What bench.quorum, bench.signing and bench.payloads share: each names its systems (a cluster and a task each),
its baseline and its words; :func:`compare` warms them up, alternates throughput batches between them (metering
the CPU each part spends), then round trips, and prints throughput (also as a multiple of the baseline's), CPU
per call and round-trip p50/p95.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial

from bench.common import (
    Cluster,
    Report,
    Summary,
    alternate,
    metered,
    parser,
    process_tree,
    service_pids,
    step,
)
from bench.dispatch import WARMUP, batch_s, trip_s
from bench.noop_tasks import SKILL
from organism.local import LocalWorkers


@dataclass(frozen=True)
class System:
    """One side of a comparison.

    Attributes:
        label: its row's name in the table.
        batch: ``batch(calls, iteration=0)``: seconds from sending ``calls`` calls at once to holding every result.
        trip: ``trip(iteration)``: seconds for one call's round trip.
        workers: the worker processes serving it (their CPU is its workers' part).
    """

    label: str
    batch: Callable[..., float]
    trip: Callable[[int], float]
    workers: LocalWorkers


def noop(label: str, on: Cluster, task: str = SKILL) -> System:
    """The no-op ``task`` of :mod:`bench.noop_tasks` on the cluster ``on``."""
    sent = on.app.tasks[task]
    return System(label, partial(batch_s, on.app, sent), partial(trip_s, sent), on.workers)


def worker_pids(workers: LocalWorkers) -> list[int]:
    """The worker processes and their pool processes."""
    return process_tree([process.pid for process in workers.processes.values()])


# What each part of the cost is: the processes whose CPU time counts for it.
PIDS: dict[str, Callable[[System], list[int]]] = {
    "producer": lambda _system: [os.getpid()],  # this process: sending, and reading the results
    "workers": lambda system: worker_pids(system.workers),
    "RabbitMQ + Redis": lambda _system: service_pids(),
}
PARTS = tuple(PIDS)


def compare(report: Report, systems: Mapping[str, System], baseline: str, title: str, note: str, first: str = "",
            versus: str | None = None, parts: Sequence[str] = PARTS) -> None:
    """Measure ``systems`` alternately and print one table row for each.

    Each is warmed up, then runs ``2 x --rounds`` throughput batches of ``--calls`` calls (with the CPU time of
    each of ``parts`` over them) and ``--samples`` round trips. ``first`` heads the label column, and the
    throughput is also given as a multiple of ``baseline``'s, in a column headed "vs ``versus``" (default the
    baseline's name). Call it while the systems run; the raw figures go to the JSON report.
    """
    args = report.args
    step("warming up")  # connections, pools, pydantic's validators, the prefork children
    for system in systems.values():
        system.batch(WARMUP)
    cpu: dict[str, dict[str, float]] = {name: {} for name in systems}
    step(f"throughput: {2 * args.rounds} batches of {args.calls} calls each")
    batches = alternate({name: metered(partial(system.batch, args.calls),
                                       {part: partial(PIDS[part], system) for part in parts}, cpu[name])
                         for name, system in systems.items()}, 2 * args.rounds)
    step(f"round trips: {args.samples} each")
    trips = alternate({name: system.trip for name, system in systems.items()}, args.samples)
    rate = {name: args.calls * len(seconds) / sum(seconds) for name, seconds in batches.items()}
    per_call = {name: {part: 1000 * used / (args.calls * len(batches[name])) for part, used in cpu[name].items()}
                for name in systems}
    lat = {name: Summary.of(seconds) for name, seconds in trips.items()}
    report.table(
        title,
        [first, "throughput (calls/s)", f"vs {versus or baseline}", *(f"CPU {part} (ms/call)" for part in parts),
         "round trip p50 (ms)", "p95 (ms)"],
        [[system.label, rate[name], f"{rate[name] / rate[baseline]:.2f}x",
          *(round(per_call[name].get(part, 0.0), 2) for part in parts), lat[name].p50_ms, lat[name].p95_ms]
         for name, system in systems.items()],
        note=note,
        samples={**{f"{name} batch s": seconds for name, seconds in batches.items()},
                 **{f"{name} round trip s": seconds for name, seconds in trips.items()}})


def arguments(description: str, per: str) -> argparse.Namespace:
    """The common options, and how many calls per batch, batches and round trips per ``per`` (a system)."""
    p = parser(description)
    p.add_argument("--calls", type=int, default=2000, help="calls per throughput batch (default 2000)")
    p.add_argument("--rounds", type=int, default=2, help=f"throughput batches per {per}, times two (default 2)")
    p.add_argument("--samples", type=int, default=300, help=f"round trips per {per} (default 300)")
    return p.parse_args()
