"""The Celery app, configured entirely from settings.

``celery -A organism.app worker -Q perception`` and ``organism worker --organ perception`` both use the
module-level :data:`app`; tests and tools build their own with :func:`create_app`.
"""

from __future__ import annotations

from typing import Any

from celery import Celery, signals

from organism.brokers import broker_for, confirms, embedded
from organism.brokers import results as result_backends
from organism.brokers.queues import declare_dead_letters, declare_organ_queues, organ_queues, route_by_organ
from organism.failures import bad_messages
from organism.gateway import routes
from organism.observability import events, hooks, tracing
from organism.priorities import NUMBERS, Priority
from organism.security import publishing, signing
from organism.settings import Settings, get_settings
from organism.store.db import forget_engines
from organism.workflows import node_writer

# The runtime's own tasks: the errback and hand-on of every run, the start beat sends, the watchdog, a map's gather.
RUNTIME_TASK_MODULES = ("organism.workflows.tracking", "organism.workflows.plan", "organism.workflows.start",
                        "organism.workflows.reconcile", "organism.workflows.mapping")


class Organism(Celery):
    """A Celery app that carries the settings it was built from."""

    settings: Settings
    events_cls = events.EVENTS  # task events carry no secret (observability/events.py)
    amqp_cls = publishing.SealingAMQP  # every task message seals the arguments of sensitive skills (organism/security)

    def producer_or_acquire(self, producer: Any = None) -> Any:
        """The producer given, else that of the :func:`~organism.brokers.confirms.confirmed_together` block the
        caller is in, else one from the pool: every publish in such a block is confirmed with it."""
        return super().producer_or_acquire(producer or confirms.block_producer(self))


def celery_config(settings: Settings) -> dict[str, Any]:
    """The Celery configuration derived from settings (JSON only, late acks, prefetch 1, queue per organ)."""
    broker, results = broker_for(settings.broker), settings.results
    engine_options: dict[str, Any] = {}
    if results.startswith("db+"):
        engine_options = embedded.engine_options(results)
        results = embedded.result_backend_url(results)
    results = result_backends.backend_url(results)
    first = settings.organs[0]
    return {
        "broker_url": broker.celery_url,
        "broker_transport": broker.transport,
        "broker_transport_options": broker.transport_options(settings),
        "broker_connection_retry_on_startup": True,
        # Every publish, a chord's callback from the worker that joins it included, rides out a broker restart of
        # up to about 15 s (waits of 0.2, 0.7, 1.2, 1.7 then 2 s): Celery's default gives up after 0.6 s, and a
        # chord whose last header finished during a RabbitMQ restart then failed its run with "Callback error".
        "task_publish_retry_policy": {"max_retries": 9, "interval_start": 0.2, "interval_step": 0.5,
                                      "interval_max": 2.0},
        "result_backend": results,
        "database_engine_options": engine_options,
        "timezone": settings.timezone,
        "enable_utc": True,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "result_accept_content": ["json"],
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        # A failed task's message is rejected, not acked: on RabbitMQ it moves to the dead-letter exchange.
        "task_acks_on_failure_or_timeout": False,
        # A redelivered message whose task already succeeded is not run again (Celery reads its stored state).
        "worker_deduplicate_successful_tasks": True,
        # Each stored result also names its task, worker and queue, and its arguments redacted (brokers/results.py).
        "result_extended": True,
        "worker_prefetch_multiplier": 1,
        # A message that names no priority is served as normal (organism.priorities): the runtime's own tasks too.
        "task_default_priority": NUMBERS[Priority.NORMAL],
        "task_soft_time_limit": settings.task_soft_time_limit_s,
        "task_time_limit": settings.task_time_limit_s,
        "task_queues": organ_queues(settings, broker),
        "task_routes": (route_by_organ,),
        "task_default_queue": first,
        "task_default_exchange": broker.organ_exchange(settings).name,
        "task_default_routing_key": first,
        "task_create_missing_queues": False,
        "worker_hijack_root_logger": False,
        "worker_consumer": bad_messages.CONSUMER,
        # Celery's in-memory scheduler plus the workflow clock, whose state is in the store: no shelve file.
        "beat_scheduler": "organism.workflows.clock:Beat",
        "include": [*RUNTIME_TASK_MODULES, *settings.task_modules],
        **hooks.celery_options(settings),
        **signing.celery_options(settings),  # with signing on: task and control messages signed, only those accepted
    }


def create_app(settings: Settings | None = None) -> Organism:
    """Build the Celery app for ``settings`` (default: the process-wide settings).

    Raises:
        SettingsError: the gateway's routes or policies are wrong (one line each), or signing is on and its key,
            certificate or store is missing or wrong.
    """
    settings = settings or get_settings()
    routes.check(settings)
    app = Organism("organism", set_as_current=True)
    app.settings = settings
    app.conf.update(celery_config(settings))
    signing.install(app, settings)
    tracing.configure(settings.tracing)
    return app


@signals.worker_init.connect
def _declare_queues(sender: Any = None, **_: Any) -> None:
    settings = sender.app.settings
    broker = broker_for(settings.broker)
    with sender.app.connection_for_write() as connection:
        refused = declare_organ_queues(connection, settings, broker)
        if refused:  # the worker could not consume: stop with the fix rather than Celery's traceback
            raise SystemExit("\n".join(f"the organ queue {queue} was declared earlier with other arguments "
                                        f"({reason}): {fix}" for queue, reason, fix in refused))
        declare_dead_letters(connection, settings, broker)


@signals.worker_process_init.connect
def _fresh_engines(**_: Any) -> None:
    # A prefork child must not reuse the parent's database connections.
    forget_engines()


@signals.worker_process_shutdown.connect
@signals.worker_shutdown.connect
def _write_queued_bookkeeping(**_: Any) -> None:
    node_writer.flush()


app = create_app()
