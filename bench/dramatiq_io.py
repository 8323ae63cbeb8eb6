"""``bench.io_bound``'s work as Dramatiq actors, on the broker :mod:`bench.dramatiq_app` makes: the same wait and
the same HTTP call as ``bench.io_tasks``. Dramatiq's workers import this module after ``bench.dramatiq_app``."""

from __future__ import annotations

import dramatiq

from bench import dramatiq_app
from bench.io_tasks import ask, wait

WAIT, HTTP = "bench_io_wait", "bench_io_http"


def actors(broker: dramatiq.Broker) -> dict[str, dramatiq.Actor]:
    """The wait and HTTP actors on ``broker``, by name (declared on it unless they are already)."""
    return {name: broker.actors.get(name) or dramatiq.actor(actor_name=name, queue_name=dramatiq_app.QUEUE,
                                                            broker=broker, store_results=True, max_retries=0)(fn)
            for name, fn in ((WAIT, wait), (HTTP, ask))}


actors(dramatiq.get_broker())
