"""What quorum organ queues cost: the no-op skill on classic and on quorum queues, same RabbitMQ, same worker.

Two Organism clusters run at once, each with one worker serving ``perception`` as ``organism worker`` starts it
(two prefork slots): one on classic queues (vhost ``organism_bench``), one with ``rabbitmq_queue_type = "quorum"``
(vhost ``organism_bench_quorum``: a queue keeps its type for life). Measured alternately, as bench.dispatch does:
throughput (N calls sent at once, until all N results are back), the CPU each call cost the workers and
RabbitMQ + Redis, and round trips one call at a time.

    .venv/bin/python -m bench.quorum
"""

from __future__ import annotations

from contextlib import ExitStack

from bench import ab
from bench.common import Report, cluster, main

LABELS = {"classic": "classic queues (x-max-priority 10)", "quorum": "quorum queues (at-least-once dead letters)"}


def measure(report: Report) -> None:
    args = report.args
    with ExitStack() as running:
        clusters = {
            "classic": running.enter_context(cluster("production", ["bench.noop_tasks"], ["perception"],
                                                     with_store=False)),
            "quorum": running.enter_context(cluster("production", ["bench.noop_tasks"], ["perception"],
                                                    with_store=False, vhost="organism_bench_quorum",
                                                    extra_env={"ORGANISM_RABBITMQ_QUEUE_TYPE": "quorum"}))}
        ab.compare(
            report, {name: ab.noop(LABELS[name], on) for name, on in clusters.items()}, "classic",
            f"Quorum queues: the no-op skill, {2 * args.rounds} batches of {args.calls} calls and {args.samples} "
            "round trips per queue type",
            "Measurements alternate between the queue types (AB BA ...); one RabbitMQ node, so the quorum queue's "
            "Raft log is written but not replicated.",
            first="organ queues", parts=("workers", "RabbitMQ + Redis"))


if __name__ == "__main__":
    raise SystemExit(main("bench.quorum", ab.arguments(__doc__.split("\n")[0], "queue type"), measure))
