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

import json
import time
from functools import partial
from typing import Any

from celery.app.amqp import AMQP

from bench import ab
from bench.common import RABBITMQ_VHOST, Cluster, Report, cluster, main
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


def calls(report: Report, on: Cluster) -> None:
    args = report.args
    skills = {"plain": ab.noop("no-op skill", on),
              "sealed": ab.noop("the same skill, sensitive=True", on, SENSITIVE)}
    ab.compare(
        report, skills, "plain",
        f"Payload encryption, production profile (RabbitMQ, Redis results): {2 * args.rounds} batches of "
        f"{args.calls} no-op skill calls and {args.samples} round trips each, alternating",
        "One perception worker (the organ's defaults), one payload key; both skills on the same worker.",
        parts=())


def measure(report: Report) -> None:
    env = {"ORGANISM_PAYLOADS__KEYS": json.dumps({"bench": new_key()})}
    with cluster("production", ["bench.noop_tasks"], ["perception"], with_store=False,
                 extra_env=env, vhost=f"{RABBITMQ_VHOST}_payloads") as running:
        messages(report, running.app)
        calls(report, running)


if __name__ == "__main__":
    raise SystemExit(main("bench.payloads", ab.arguments(__doc__.split("\n")[0], "skill"), measure))
