"""One durable queue per organ on one direct exchange, plus the dead-letter exchange they point at."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kombu import Connection, Exchange, Queue

from organism.settings import Settings

if TYPE_CHECKING:
    from organism.brokers.base import Broker

EXCHANGE = Exchange("organism", type="direct", durable=True)
DEAD_LETTER_EXCHANGE = Exchange("organism.dead", type="direct", durable=True)
DEAD_LETTER_QUEUE = "organism.dead"


def organ_queues(settings: Settings, broker: Broker) -> list[Queue]:
    """The organ queues, with the arguments ``broker`` declares them with (RabbitMQ: dead-lettering, priorities)."""
    return [Queue(organ, EXCHANGE, routing_key=organ, durable=True,
                  queue_arguments=broker.queue_arguments(settings, organ))
            for organ in settings.organs]


def route_by_organ(name: str, args: Any, kwargs: Any, options: dict[str, Any], task: Any = None,
                   **_: Any) -> dict[str, str] | None:
    """Celery router: a skill goes to its organ's queue; anything else takes the default route."""
    info = getattr(task, "skill", None)
    return {"queue": info.organ, "routing_key": info.organ} if info is not None else None


def declare_dead_letters(connection: Connection, settings: Settings) -> None:
    """Declare the dead-letter exchange and one queue bound to it for every organ's routing key."""
    queue = Queue(DEAD_LETTER_QUEUE, DEAD_LETTER_EXCHANGE, durable=True,
                  bindings=None, routing_key=settings.organs[0])
    channel = connection.default_channel
    queue(channel).declare()
    for organ in settings.organs[1:]:
        queue(channel).bind_to(DEAD_LETTER_EXCHANGE, routing_key=organ)
