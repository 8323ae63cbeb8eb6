"""What each lever on Organism's dispatch path is worth: no-op skill throughput, variant against variant, one run.

Every variant is a whole Organism cluster of the production profile in its own RabbitMQ vhost
(``organism_bench_<variant>``): the skill's worker started as ``organism worker`` starts it, with one thing
changed (a setting, a lever of ``bench.lever_app``, the worker topology or the producer's publish path). Stock
Celery runs beside them as the reference. Throughput batches (N calls sent at once, then every result awaited)
alternate between all of them (AB BA ...), so the machine's drift hits each alike; CPU per call is read from /proc
over the same batches.

    .venv/bin/python -m bench.dispatch_levers
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from celery import Celery

from bench.common import (
    RABBITMQ_VHOST,
    BenchError,
    Cluster,
    Report,
    alternate,
    cluster,
    main,
    metered,
    parser,
    process_tree,
    service_pids,
    step,
)
from bench.dispatch import PARTS, WARMUP, batch_s, together_batch_s
from bench.noop_tasks import RAW, SKILL
from bench.stock_app import STOCK_QUEUE

ORGAN = "perception"


def _organ(field_name: str, value: str) -> dict[str, str]:
    return {f"ORGANISM_WORKERS__{ORGAN.upper()}__{field_name.upper()}": value}


@dataclass(frozen=True)
class Variant:
    """One configuration of Organism's skill path.

    Attributes:
        key: short name, on the command line (``--only``) and in the vhost's name.
        label: what it changes, for the table.
        env: ``ORGANISM_*`` settings it changes, for the producer and the workers.
        levers: ``bench.lever_app`` levers pulled in the workers.
        processes: worker processes serving the organ, each with its own connection.
        publish: how the producer publishes: ``confirmed`` (the app's publisher confirms, one wait per message),
            ``together`` (each batch in ``confirmed_together``: one wait per batch, as safe) or ``unconfirmed`` (no
            confirms: what they cost, not a safe choice).
    """

    key: str
    label: str
    env: dict[str, str] = field(default_factory=dict)
    levers: tuple[str, ...] = ()
    processes: int = 1
    publish: str = "confirmed"


EVENTS = {"ORGANISM_OBSERVABILITY__TASK_EVENTS": "true"}
IO_ORGAN = _organ("bound", "io") | _organ("concurrency", "20")  # an io organ's defaults: 20 threads
VARIANTS = (
    Variant("default", "none: Organism's defaults, as organism worker starts them"),
    Variant("before", "all of: task events on and confirmed, prefetch 1 (the defaults before)",
            env=EVENTS | _organ("prefetch", "1"), levers=("events-confirmed",)),
    Variant("events", "task events on, unconfirmed (what a running Flower switches on)", env=EVENTS),
    Variant("confirmed-events", "task events on, each waiting for its publisher confirm", env=EVENTS,
            levers=("events-confirmed",)),
    Variant("prefetch1", "prefetch 1 per slot", env=_organ("prefetch", "1")),
    Variant("prefetch4", "prefetch 4 per slot", env=_organ("prefetch", "4")),
    Variant("no-extended", "result_extended off: no name, arguments (redacted), worker or queue beside each result",
            levers=("no-extended-results",)),
    Variant("no-hooks", "no per-task metrics and outcome log line (observability.hooks)", levers=("no-task-hooks",)),
    Variant("celery-store", "results stored as Celery stores them: a GET, then a SETEX and a PUBLISH",
            levers=("celery-result-store",)),
    Variant("quiet-celery", "Celery's own per-task log lines (received, succeeded) off",
            levers=("quiet-celery-lines",)),
    Variant("priority1", "organ queues with x-max-priority 1 instead of 10", env={"ORGANISM_MAX_PRIORITY": "1"}),
    Variant("unconfirmed", "producer without publisher confirms (unsafe: what confirms cost)", publish="unconfirmed"),
    Variant("threads", "one worker of 2 threads (time limits by its watchdog)", env=_organ("pool", "threads")),
    Variant("solo", "2 solo workers, each its own connection (time limits by their watchdogs)",
            env=_organ("pool", "solo") | _organ("concurrency", "1"), processes=2),
    Variant("together", "each batch published in confirmed_together (one confirm wait per batch)",
            publish="together"),
    Variant("threads-together", "both: one worker of 2 threads, each batch in confirmed_together",
            env=_organ("pool", "threads"), publish="together"),
    Variant("io", "the organ declared I/O-bound (its defaults: 20 threads, prefetch 2)", env=IO_ORGAN),
    Variant("io-together", "both: the organ declared I/O-bound, each batch in confirmed_together", env=IO_ORGAN,
            publish="together"),
    Variant("io-no-hooks", "all of: the organ declared I/O-bound, each batch in confirmed_together, no per-task "
            "metrics and outcome log line", env=IO_ORGAN, publish="together", levers=("no-task-hooks",)),
    Variant("solo-together", "both: 2 solo workers, each batch in confirmed_together",
            env=_organ("pool", "solo") | _organ("concurrency", "1"), processes=2, publish="together"),
)


@contextmanager
def unconfirmed_producer(app: Celery) -> Iterator[Any]:
    """A producer on a connection of its own without publisher confirms."""
    with app.connection_for_write(transport_options={"confirm_publish": False}) as connection:
        yield app.amqp.Producer(connection)


def start(running: ExitStack, variant: Variant) -> Cluster:
    levers = {"BENCH_LEVERS": ",".join(variant.levers)} if variant.levers else {}
    return running.enter_context(cluster(
        "production", ["bench.noop_tasks"], [ORGAN], with_store=False, extra_env=variant.env | levers,
        vhost=f"{RABBITMQ_VHOST}_{variant.key.replace('-', '_')}", app_module="bench.lever_app" if levers else None,
        processes=variant.processes))


def measure(report: Report) -> None:
    args = report.args
    chosen = [v for v in VARIANTS if not args.only or v.key in args.only.split(",")]
    unknown = set(args.only.split(",") if args.only else ()) - {v.key for v in VARIANTS}
    if unknown:
        raise BenchError(f"unknown variant(s) {', '.join(sorted(unknown))}; known: "
                         f"{', '.join(v.key for v in VARIANTS)}")
    with ExitStack() as running:
        clusters = {variant.key: start(running, variant) for variant in chosen}
        stock = running.enter_context(cluster("production", ["bench.noop_tasks"], [STOCK_QUEUE], stock=True))
        clusters["stock"] = stock
        sends: dict[str, Callable[..., float]] = {"stock": partial(batch_s, stock.app, stock.app.tasks[RAW])}
        for variant in chosen:
            on = clusters[variant.key]
            producer = (running.enter_context(unconfirmed_producer(on.app)) if variant.publish == "unconfirmed"
                        else None)
            sends[variant.key] = (partial(together_batch_s, on.app, on.app.tasks[SKILL])
                                  if variant.publish == "together"
                                  else partial(batch_s, on.app, on.app.tasks[SKILL], producer=producer))
        step("warming up")
        for send in sends.values():
            send(WARMUP)
        cpu: dict[str, dict[str, float]] = {name: {} for name in sends}
        step(f"throughput: {2 * args.rounds} batches of {args.calls} calls per variant")
        batches = alternate({name: metered(partial(send, args.calls), {
            "producer": lambda: [os.getpid()],
            "workers": lambda w=clusters[name].workers: process_tree([p.pid for p in w.processes.values()]),
            "RabbitMQ + Redis": service_pids}, cpu[name]) for name, send in sends.items()}, 2 * args.rounds)
    labels = {"stock": "stock Celery app (Celery defaults: early acks, prefetch 4, no confirms, no events)",
              **{v.key: v.label for v in chosen}}
    rate = {name: args.calls * len(seconds) / sum(seconds) for name, seconds in batches.items()}
    spread = {name: f"{args.calls / max(s):.0f}-{args.calls / min(s):.0f}" for name, s in batches.items()}
    per_call = {name: {part: 1000 * used / (args.calls * len(batches[name])) for part, used in cpu[name].items()}
                for name in sends}
    base = rate.get("default")
    report.table(
        f"Levers, production profile (RabbitMQ, Redis results): {2 * args.rounds} batches of {args.calls} no-op "
        "skill calls per variant, alternating",
        ["variant", "what it changes", "throughput (calls/s)", "batches", "vs default", "vs stock",
         *(f"CPU {part} (ms/call)" for part in PARTS), "CPU total (ms/call)"],
        [[name, labels[name], rate[name], spread[name], f"{rate[name] / base:.2f}x" if base else "-",
          f"{rate[name] / rate['stock']:.2f}x", *(f"{per_call[name].get(part, 0.0):.2f}" for part in PARTS),
          f"{sum(per_call[name].values()):.2f}"] for name in [*[v.key for v in chosen], "stock"]],
        note="Each variant differs from the defaults in the one thing named (two where it says both). CPU per "
             "call: this process (the producer), the variant's worker processes, and RabbitMQ + Redis (shared "
             "with the rest of the machine).",
        samples={f"{name} batch s": seconds for name, seconds in batches.items()})


def arguments() -> argparse.Namespace:
    p = parser(__doc__.split("\n")[0])
    p.add_argument("--calls", type=int, default=2000, help="calls per throughput batch (default 2000)")
    p.add_argument("--rounds", type=int, default=1, help="throughput batches per variant, times two (default 1)")
    p.add_argument("--only", metavar="KEYS", help="comma-separated variants to run (default all): "
                   + ", ".join(v.key for v in VARIANTS))
    return p.parse_args()


if __name__ == "__main__":
    raise SystemExit(main("bench.dispatch_levers", arguments(), measure))
