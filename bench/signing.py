"""What message signing costs: no-op skill calls with signing off and on, side by side on one broker.

Two Organism clusters of the production profile, each in its own RabbitMQ vhost (``organism_bench_unsigned``,
``organism_bench_signed``), each one perception worker as ``organism worker`` starts it; the signed one has
``[signing]`` on with a key of ``organism keys generate``'s default size. Measurements alternate between them
(AB BA ...):

* throughput: N calls sent at once, then every result awaited; calls per second, and the CPU each call cost the
  producer (signing) and the workers (verifying, and signing what they publish), from /proc;
* round trip: one call at a time; p50 and p95 in ms.

    .venv/bin/python -m bench.signing
"""

from __future__ import annotations

import argparse
import os
import tempfile
from collections.abc import Callable
from contextlib import ExitStack
from functools import partial
from pathlib import Path

from bench.common import (
    RABBITMQ_VHOST,
    Report,
    Summary,
    alternate,
    cluster,
    main,
    metered,
    parser,
    process_tree,
    service_pids,
    step,
)
from bench.dispatch import PARTS, WARMUP, batch_s, trip_s
from bench.noop_tasks import SKILL
from organism.security.signing_keys import KEY_BITS, generate

LABELS = {"unsigned": "signing off (JSON)", "signed": f"signing on (RSA {KEY_BITS}, sha256)"}


def measure(report: Report) -> None:
    args = report.args
    with ExitStack() as running:
        keys = Path(running.enter_context(tempfile.TemporaryDirectory(prefix="organism-bench-keys-")))
        made = generate(keys / "key.pem", keys / "cert.pem", "organism-bench")
        signed_env = {"ORGANISM_SIGNING__ENABLED": "true", "ORGANISM_SIGNING__KEY_FILE": str(made.key),
                      "ORGANISM_SIGNING__CERTIFICATE_FILE": str(made.certificate)}
        clusters = {name: running.enter_context(cluster(
            "production", ["bench.noop_tasks"], ["perception"], with_store=False, extra_env=env,
            vhost=f"{RABBITMQ_VHOST}_{name}")) for name, env in (("unsigned", {}), ("signed", signed_env))}
        batch = {name: partial(batch_s, on.app, on.app.tasks[SKILL]) for name, on in clusters.items()}
        trip: dict[str, Callable[[int], float]] = {name: partial(trip_s, on.app.tasks[SKILL])
                                                    for name, on in clusters.items()}
        step("warming up")
        for name in clusters:
            batch[name](WARMUP)
        cpu: dict[str, dict[str, float]] = {name: {} for name in clusters}
        step(f"throughput: {2 * args.rounds} batches of {args.calls} calls each")
        batches = alternate({name: metered(partial(send, args.calls), {
            "producer": lambda: [os.getpid()],
            "workers": lambda w=clusters[name].workers: process_tree([p.pid for p in w.processes.values()]),
            "RabbitMQ + Redis": service_pids}, cpu[name]) for name, send in batch.items()}, 2 * args.rounds)
        step(f"round trips: {args.samples} each")
        trips = alternate(trip, args.samples)
    rate = {name: args.calls * len(seconds) / sum(seconds) for name, seconds in batches.items()}
    per_call = {name: {part: 1000 * used / (args.calls * len(batches[name])) for part, used in cpu[name].items()}
                for name in clusters}
    lat = {name: Summary.of(seconds) for name, seconds in trips.items()}
    report.table(
        f"Signing, production profile (RabbitMQ, Redis results): {2 * args.rounds} batches of {args.calls} no-op "
        f"skill calls and {args.samples} round trips each, alternating",
        ["", "throughput (calls/s)", "vs off", *(f"CPU {part} (ms/call)" for part in PARTS),
         "round trip p50 (ms)", "p95 (ms)"],
        [[LABELS[name], rate[name], f"{rate[name] / rate['unsigned']:.2f}x",
          *(round(per_call[name].get(part, 0.0), 2) for part in PARTS), lat[name].p50_ms, lat[name].p95_ms]
         for name in clusters],
        note="One perception worker each (the organ's defaults). CPU per call: producer (this process), workers "
             "(every worker process), RabbitMQ + Redis, over the throughput batches.",
        samples={**{f"{name} batch s": seconds for name, seconds in batches.items()},
                 **{f"{name} round trip s": seconds for name, seconds in trips.items()}})


def arguments() -> argparse.Namespace:
    p = parser(__doc__.split("\n")[0])
    p.add_argument("--calls", type=int, default=2000, help="calls per throughput batch (default 2000)")
    p.add_argument("--rounds", type=int, default=2, help="throughput batches per cluster, times two (default 2)")
    p.add_argument("--samples", type=int, default=300, help="round trips per cluster (default 300)")
    return p.parse_args()


if __name__ == "__main__":
    raise SystemExit(main("bench.signing", arguments(), measure))
