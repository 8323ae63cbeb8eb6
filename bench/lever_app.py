"""Organism's app with some of ``bench.dispatch_levers``' levers pulled: what a worker of one variant runs.

``BENCH_LEVERS`` names them, comma-separated (see :data:`LEVERS`); ``celery -A bench.lever_app worker`` started
with the benchmark's ``ORGANISM_*`` environment and no levers is exactly ``organism worker``. Levers that settings
already express (prefetch, pool, task events) are set through ``ORGANISM_*`` instead, as an operator would.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

from celery import signals
from celery.worker.consumer import Consumer as CeleryConsumer

from organism.app import app
from organism.brokers import results
from organism.failures import bad_messages
from organism.observability import hooks


class ConfirmedEvents(bad_messages.Consumer):
    """Organism's consumer as it was before its task events went out unconfirmed: each event waits for its
    publisher confirm, like a task message."""

    def connection_for_write(self, url: str | None = None, heartbeat: float | None = None) -> Any:
        return CeleryConsumer.connection_for_write(self, url=url, heartbeat=heartbeat)


def _set(**conf: Any) -> Callable[[], None]:
    return lambda: app.conf.update(conf)


def _without_task_hooks() -> None:
    """No metrics or outcome log line per task (the task_prerun/task_postrun handlers of observability.hooks)."""
    signals.task_prerun.disconnect(hooks._started)
    signals.task_postrun.disconnect(hooks._finished)


def _celery_result_store() -> None:
    """Each state stored in Celery's two round trips (a GET, then a SETEX and a PUBLISH), not Organism's one."""
    del results.RedisBackend._store_result


def _quiet_celery_lines() -> None:
    for name in ("celery.app.trace", "celery.worker.strategy"):
        logging.getLogger(name).setLevel(logging.WARNING)


LEVERS: dict[str, Callable[[], None]] = {
    "events-confirmed": _set(worker_consumer="bench.lever_app:ConfirmedEvents"),
    "no-extended-results": _set(result_extended=False),
    "no-task-hooks": _without_task_hooks,
    "celery-result-store": _celery_result_store,
    "quiet-celery-lines": _quiet_celery_lines,
}

for name in filter(None, os.environ.get("BENCH_LEVERS", "").split(",")):
    LEVERS[name]()
