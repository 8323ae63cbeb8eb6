"""The scrape: worker samples from the multiprocess folder, plus the cluster read from the broker and the store.

Worker processes record what only they see (instruments.py). Everything else is read when Prometheus scrapes,
from the source that knows it: queue depth and age from the broker (broker.py); dead letters, tokens, cost and
runs from the store (store_metrics.py); breaker and semaphore from the gateway's tables (gateway_state.py); the
workers alive on this host from their heartbeat files (health.py).
A source that cannot be read is reported by ``organism_source_up{source=...} 0``, and the rest still scraped.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from organism.brokers import broker_for
from organism.gateway.models import BreakerState
from organism.observability.broker import BacklogClock, queue_names, read_queues
from organism.observability.gateway_state import endpoint_views
from organism.observability.health import heartbeats
from organism.observability.store_metrics import dead_letter_metrics, ledger_metrics, run_metrics
from organism.workflows.registry import workflows

if TYPE_CHECKING:
    from organism.app import Organism

logger = logging.getLogger(__name__)


class ClusterCollector(Collector):
    """Reads the broker and the store of ``app`` (an :class:`organism.app.Organism`) at each scrape."""

    def __init__(self, app: Organism) -> None:
        self.app = app
        self.settings = app.settings
        self.broker = broker_for(app.settings.broker)
        self.clock = BacklogClock()
        # Imported here, in the thread that builds the exporter: task modules may look for the current app,
        # which a server's worker threads do not share.
        app.loader.import_default_modules()
        self.skills = frozenset(app.tasks)  # the only values the ``skill`` label takes
        self.workflows = [workflow.name for workflow in workflows(app)]

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("organism_source_up", "Whether the last scrape could read this source.",
                               labels=["source"])
        url = self.settings.database
        sources: list[tuple[str, Callable[[], Iterable[Metric]]]] = [
            ("broker", self.queue_metrics),
            ("dead_letters", lambda: dead_letter_metrics(url, self.skills, self.settings.organs)),
            ("ledger", lambda: ledger_metrics(url, self.settings.zone, self.settings.gateway.daily_budget_usd)),
            ("runs", lambda: run_metrics(url, self.workflows)),
            ("gateway", self.gateway_metrics),
            ("heartbeats", self.worker_metrics),
        ]
        for source, read in sources:
            try:
                families = list(read())
            except Exception:
                logger.exception("metrics: could not read %s", source)
                up.add_metric([source], 0)
                continue
            up.add_metric([source], 1)
            yield from families
        yield up

    def queue_metrics(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily("organism_queue_messages", "Messages ready in the queue.", labels=["queue"])
        age = GaugeMetricFamily("organism_queue_oldest_message_age_seconds",
                                "Age of the oldest ready message (RabbitMQ: an upper bound, the time since "
                                "the queue was last seen empty; see docs/observability.md).", labels=["queue"])
        consumers = GaugeMetricFamily("organism_queue_consumers", "Consumers attached (RabbitMQ only).",
                                      labels=["queue"])
        with self.app.connection_for_read() as connection:
            connection.ensure_connection(max_retries=1, timeout=3)
            states = read_queues(self.broker, connection, queue_names(self.settings.organs), self.clock)
        for state in states:
            depth.add_metric([state.name], state.messages)
            if state.oldest_age_s is not None:
                age.add_metric([state.name], state.oldest_age_s)
            if state.consumers is not None:
                consumers.add_metric([state.name], state.consumers)
        yield from (depth, age, consumers)

    def worker_metrics(self) -> Iterator[Metric]:
        """Workers whose heartbeat on this host is fresh, per organ queue they consume (0 for an organ none does).
        Summed over the exporters of every host, that is the cluster's, on any broker (RabbitMQ alone also counts
        consumers)."""
        workers = GaugeMetricFamily("organism_workers", "Workers on this host with a fresh heartbeat, by the queue "
                                    "they consume; sum over every host's exporter.", labels=["queue"])
        observability, now = self.settings.observability, time.time()
        serving = dict.fromkeys(self.settings.organs, 0)
        for beat in heartbeats(observability.health_path(self.settings.data_dir)):
            if beat.age_s(now) <= observability.heartbeat_max_age_s:
                for queue in set(beat.queues) & serving.keys():
                    serving[queue] += 1
        for queue, count in serving.items():
            workers.add_metric([queue], count)
        yield workers

    def gateway_metrics(self) -> Iterator[Metric]:
        breaker = GaugeMetricFamily("organism_gateway_breaker_state", "1 for the state each endpoint's circuit "
                                    "is in.", labels=["endpoint", "state"])
        failures = GaugeMetricFamily("organism_gateway_breaker_failures", "Consecutive failures counted.",
                                     labels=["endpoint"])
        permits = GaugeMetricFamily("organism_gateway_permits", "Permits of the cluster-wide semaphore.",
                                    labels=["endpoint"])
        held = GaugeMetricFamily("organism_gateway_permits_held", "Permits held under a live lease.",
                                 labels=["endpoint"])
        waiters = GaugeMetricFamily("organism_gateway_waiters", "Calls waiting for a permit.", labels=["endpoint"])
        waited = GaugeMetricFamily("organism_gateway_longest_wait_seconds", "How long the oldest waiting call "
                                   "has been waiting for a permit.", labels=["endpoint"])
        for view in endpoint_views(self.settings.database, self.settings.gateway, time.time()):
            for state in BreakerState:
                breaker.add_metric([view.endpoint, state.value], 1 if view.breaker == state.value else 0)
            failures.add_metric([view.endpoint], view.failures)
            permits.add_metric([view.endpoint], view.permits)
            held.add_metric([view.endpoint], view.held)
            waiters.add_metric([view.endpoint], view.waiters)
            waited.add_metric([view.endpoint], view.longest_wait_s)
        yield from (breaker, failures, permits, held, waiters, waited)


def registry(app: Organism, samples: Path) -> CollectorRegistry:
    """A registry with the workers' samples in ``samples`` and the cluster read from ``app``'s broker and store."""
    found = CollectorRegistry()
    samples.mkdir(parents=True, exist_ok=True)
    MultiProcessCollector(found, path=str(samples))
    found.register(ClusterCollector(app))
    return found
