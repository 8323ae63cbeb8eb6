"""Dramatiq with its defaults on the profile's own URLs: the peer ``bench.dispatch`` measures Organism against.

Dramatiq acknowledges a message after its actor returns (late acks, as Organism does), prefetches two messages
per worker thread, and publishes without publisher confirms (``confirm_delivery=False``, its default). Results
go to the profile's Redis result database through Dramatiq's ``Results`` middleware, so a caller can wait for
them as Celery's callers do. ``python -m dramatiq bench.dramatiq_app`` started with the benchmark's
``ORGANISM_*`` environment finds the same URLs. A benchmark-only dependency: ``pip install -e '.[bench]'``.
"""

from __future__ import annotations

import dramatiq
import redis
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.redis import RedisBroker
from dramatiq.results import Results
from dramatiq.results.backends import RedisBackend

from organism.settings import Settings, get_settings

QUEUE = "bench.dramatiq"


def noop(value: int = 0) -> int:
    return value


def create(settings: Settings) -> dramatiq.Actor:
    """The no-op actor on a broker for ``settings``' broker URL (RabbitMQ or Redis), made the global broker."""
    if settings.broker.startswith("amqp"):
        broker: dramatiq.Broker = RabbitmqBroker(url=settings.broker)
    elif settings.broker.startswith("redis"):
        broker = RedisBroker(url=settings.broker)
    else:
        raise ValueError(f"Dramatiq has no broker for {settings.broker.split(':')[0]}:// (RabbitMQ or Redis only)")
    # No socket timeout: redis-py 8's default of 5 s would cut short a blocking wait for a result (get_result's
    # own timeout bounds it).
    results = redis.Redis.from_url(settings.results, socket_timeout=None)
    broker.add_middleware(Results(backend=RedisBackend(client=results)))
    dramatiq.set_broker(broker)
    return dramatiq.actor(noop, actor_name="bench_noop", queue_name=QUEUE, broker=broker, store_results=True,
                          max_retries=0)


def empty(actor: dramatiq.Actor) -> None:
    """Drop every message of the broker's queues (on RabbitMQ declared first: purging a missing queue fails)."""
    if isinstance(actor.broker, RabbitmqBroker):
        for queue in list(actor.broker.queues):
            actor.broker.declare_queue(queue, ensure=True)
    actor.broker.flush_all()


actor = create(get_settings())
