"""The cluster: which workers serve which organ, queue depths, breakers, semaphore use, and a way into Flower.

Workers are found with Celery's ``inspect active_queues`` (a broadcast: RabbitMQ and Redis answer, the embedded
SQL broker cannot broadcast) and, for this host, from their heartbeat files, which need no broker at all.
"""

from __future__ import annotations

import time
from collections import defaultdict

from flask import Blueprint, render_template

from organism.brokers import broker_for
from organism.console.context import organism
from organism.observability.broker import BacklogClock, queue_names, read_queues
from organism.observability.gateway_state import endpoint_views
from organism.observability.health import heartbeats

cluster = Blueprint("cluster", __name__)
CLOCK = BacklogClock()  # RabbitMQ queue ages, as this console process has watched them


def workers_by_organ(timeout_s: float) -> dict[str, list[str]] | None:
    """Worker names per queue they consume, or None if no worker answered within ``timeout_s``."""
    answers = organism().control.inspect(timeout=timeout_s).active_queues()
    if not answers:
        return None
    serving: dict[str, list[str]] = defaultdict(list)
    for worker, queues in sorted(answers.items()):
        for queue in queues:
            serving[queue["name"]].append(worker)
    return dict(serving)


@cluster.get("/cluster")
def index() -> str:
    app = organism()
    settings, observability = app.settings, app.settings.observability
    with app.connection_for_read() as connection:
        connection.ensure_connection(max_retries=1, timeout=3)
        queues = read_queues(broker_for(settings.broker), connection, queue_names(settings.organs), CLOCK)
    now = time.time()
    return render_template(
        "cluster.html", organs=settings.organs, queues=queues, now=now,
        serving=workers_by_organ(observability.inspect_timeout_s),
        endpoints=endpoint_views(settings.database, settings.gateway, now),
        beats=heartbeats(observability.health_path(settings.data_dir)),
        max_age_s=observability.heartbeat_max_age_s, flower=observability.flower_url)
