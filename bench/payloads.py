"""What payload encryption costs: building and opening sealed messages, and no-op skill calls sealed or not.

One Organism cluster of the production profile in its own RabbitMQ vhost (``organism_bench_payloads``), one
perception worker as ``organism worker`` starts it, with one payload key:

* messages, in this process: microseconds to build one task message with Celery's own AMQP helper, with
  Organism's (:class:`~organism.security.publishing.SealingAMQP`) for a skill not declared sensitive (the walk
  that looks for sensitive signatures) and for a sensitive one (sealing), and to open it on the worker; and the
  JSON body's size, for an argument of 64 B, 8 KiB and 1 MiB;
* calls: a no-op skill and the same skill declared sensitive, alternating (AB BA ...): N calls sent at once and
  every result awaited, in calls per second; one call at a time, p50 and p95 in ms.

    .venv/bin/python -m bench.payloads
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from celery.app.amqp import AMQP

from bench.common import RABBITMQ_VHOST, Report, Summary, alternate, cluster, main, parser, step
from bench.dispatch import WARMUP, batch_s, trip_s
from bench.noop_tasks import SENSITIVE, SKILL
from organism.security import sealed_calls
from organism.security.payload_settings import new_key

SIZES = {"64 B": 64, "8 KiB": 8 * 1024, "1 MiB": 2**20}


def per_call_us(work: Any, budget_s: float = 0.5) -> float:
    """Microseconds one call of ``work()`` takes, over as many calls as fit in about ``budget_s``."""
    calls, began = 0, time.perf_counter()
    while (spent := time.perf_counter() - began) < budget_s or calls < 3:
        work()
        calls += 1
    return 1e6 * spent / calls


def messages(report: Report, app: Any) -> None:
    stock = AMQP(app)
    keys = sealed_calls.keyring(app.settings)
    rows = []
    for label, size in SIZES.items():
        args = ("x" * size,)
        build = {name: partial(amqp.as_task_v2, "id", task, args, {}) for name, amqp, task in (
            ("stock", stock, SKILL), ("plain", app.amqp, SKILL), ("sealed", app.amqp, SENSITIVE))}
        sealed_kwargs = build["sealed"]().body[1]
        opened = partial(sealed_calls.opened, app.settings, SENSITIVE, True, [], sealed_kwargs, True)
        assert opened().args == list(args) and keys.ids
        times = {name: per_call_us(work) for name, work in {**build, "open": opened}.items()}
        plain_bytes = len(json.dumps(build["plain"]().body))
        sealed_bytes = len(json.dumps(build["sealed"]().body))
        rows.append([label, times["stock"], times["plain"], times["sealed"], times["open"], plain_bytes,
                     sealed_bytes])
    report.table(
        "Building and opening one task message (this process, no broker)",
        ["argument", "Celery's AMQP (µs)", "Organism, not sensitive (µs)", "Organism, sealed (µs)",
         "opening on the worker (µs)", "body bytes", "body bytes sealed"], rows,
        note="A string argument of the size given; one key; AES-256-GCM from cryptography, JSON from kombu.")


def calls(report: Report, app: Any) -> None:
    args = report.args
    tasks = {"plain": app.tasks[SKILL], "sealed": app.tasks[SENSITIVE]}
    batch = {name: partial(batch_s, app, task) for name, task in tasks.items()}
    trip: dict[str, Callable[[int], float]] = {name: partial(trip_s, task) for name, task in tasks.items()}
    step("warming up")
    for name in tasks:
        batch[name](WARMUP)
    step(f"throughput: {2 * args.rounds} batches of {args.calls} calls each")
    batches = alternate({name: partial(send, args.calls) for name, send in batch.items()}, 2 * args.rounds)
    step(f"round trips: {args.samples} each")
    trips = alternate(trip, args.samples)
    rate = {name: args.calls * len(seconds) / sum(seconds) for name, seconds in batches.items()}
    lat = {name: Summary.of(seconds) for name, seconds in trips.items()}
    labels = {"plain": "no-op skill", "sealed": "the same skill, sensitive=True"}
    report.table(
        f"Payload encryption, production profile (RabbitMQ, Redis results): {2 * args.rounds} batches of "
        f"{args.calls} no-op skill calls and {args.samples} round trips each, alternating",
        ["", "throughput (calls/s)", "vs plain", "round trip p50 (ms)", "p95 (ms)"],
        [[labels[name], rate[name], f"{rate[name] / rate['plain']:.2f}x", lat[name].p50_ms, lat[name].p95_ms]
         for name in tasks],
        note="One perception worker (the organ's defaults), one payload key; both skills on the same worker.",
        samples={**{f"{name} batch s": seconds for name, seconds in batches.items()},
                 **{f"{name} round trip s": seconds for name, seconds in trips.items()}})


def measure(report: Report) -> None:
    env = {"ORGANISM_PAYLOADS__KEYS": json.dumps({"bench": new_key()})}
    with cluster("production", ["bench.noop_tasks"], ["perception"], with_store=False,
                 extra_env=env, vhost=f"{RABBITMQ_VHOST}_payloads") as running:
        messages(report, running.app)
        calls(report, running.app)


def arguments() -> argparse.Namespace:
    p = parser(__doc__.split("\n")[0])
    p.add_argument("--calls", type=int, default=2000, help="calls per throughput batch (default 2000)")
    p.add_argument("--rounds", type=int, default=2, help="throughput batches per skill, times two (default 2)")
    p.add_argument("--samples", type=int, default=300, help="round trips per skill (default 300)")
    return p.parse_args()


if __name__ == "__main__":
    raise SystemExit(main("bench.payloads", arguments(), measure))
