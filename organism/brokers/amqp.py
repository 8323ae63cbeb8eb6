"""RabbitMQ (``amqp://``, ``amqps://``, ``pyamqp://``): confirmed publishes, priorities, and a dead-letter exchange
that the broker itself moves rejected messages to (their ``x-death`` header says why).

The organ queues are classic queues, or quorum queues with ``rabbitmq_queue_type = "quorum"``. A quorum queue is
replicated and moves its dead letters at least once, but has no priorities on RabbitMQ 3.x (``x-max-priority``
is refused), and Celery (5.5+) then consumes it without global QoS: a retry's countdown can no longer be held by
the worker (its prefetch would not grow to make room), so it waits on the broker, in Celery's native delayed
delivery queues. Those route only through a topic exchange, so the quorum organ queues are bound to
:data:`~organism.brokers.queues.TOPIC_EXCHANGE`, and countdowns are whole seconds (:meth:`AmqpBroker.countdown_s`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from kombu import Exchange

from organism.brokers.base import Broker
from organism.brokers.queues import DEAD_LETTER_EXCHANGE, EXCHANGE, TOPIC_EXCHANGE

if TYPE_CHECKING:
    from organism.settings import Settings


class AmqpBroker(Broker):
    prefixes = ("amqp://", "amqps://", "pyamqp://")
    dead_letters_rejected = True
    counts_consumers = True
    start = "start RabbitMQ (scripts/services, or `docker compose up -d rabbitmq`)"

    def transport_options(self, settings: Settings) -> dict[str, Any]:
        return {"confirm_publish": True}

    @property
    def management_api(self) -> str:
        """The management plugin on the broker's host, as the broker's user: ``http://user:pass@host:15672/api/``
        (``https`` on 15671 for ``amqps://``); kombu's guest/guest and localhost where the URL names none."""
        parts = urlsplit(self.url)
        scheme, port = ("https", 15671) if parts.scheme == "amqps" else ("http", 15672)
        host = parts.hostname or "localhost"
        host = f"[{host}]" if ":" in host else host
        return f"{scheme}://{parts.username or 'guest'}:{parts.password or 'guest'}@{host}:{port}/api/"

    def organ_exchange(self, settings: Settings) -> Exchange:
        """A topic exchange for quorum queues: Celery's native delayed delivery does not route through a direct one."""
        return TOPIC_EXCHANGE if settings.rabbitmq_queue_type == "quorum" else EXCHANGE

    def queue_arguments(self, settings: Settings, organ: str) -> dict[str, Any]:
        """The dead-letter exchange, and a priority maximum (classic) or the quorum type, from the first
        declaration: RabbitMQ refuses to redeclare a queue with new arguments.

        A quorum queue dead-letters at least once (RabbitMQ 3.10+; older brokers ignore the strategy): a rejected
        message stays in the organ queue until the dead-letter queue has confirmed its copy, so a broker restart
        between the two loses nothing. That strategy needs ``reject-publish`` overflow, which only acts once a
        length limit is set, and none is.
        """
        dead_letters = {"x-dead-letter-exchange": DEAD_LETTER_EXCHANGE.name, "x-dead-letter-routing-key": organ}
        if settings.rabbitmq_queue_type == "quorum":
            return {"x-queue-type": "quorum", **dead_letters, "x-dead-letter-strategy": "at-least-once",
                    "x-overflow": "reject-publish"}
        return {**dead_letters, "x-max-priority": settings.max_priority}

    def countdown_s(self, settings: Settings, countdown_s: float) -> float:
        """Whole seconds on quorum queues: native delayed delivery counts in seconds (Celery 5.7 raises for a
        countdown below one), and a message that came back early would be held by the worker for the rest."""
        if settings.rabbitmq_queue_type == "quorum" and countdown_s > 0:
            return float(math.ceil(countdown_s))
        return countdown_s

    def dead_queue_arguments(self, settings: Settings) -> dict[str, Any]:
        """RabbitMQ drops the oldest message past the length cap, and each message past its time to live."""
        arguments: dict[str, Any] = {}
        if settings.dead_queue_max_age_s:
            arguments["x-message-ttl"] = max(1, round(settings.dead_queue_max_age_s * 1000))
        if settings.dead_queue_max_length:
            arguments["x-max-length"] = settings.dead_queue_max_length
        return arguments

    def oldest_payloads(self, channel: Any, queue: str) -> None:
        """AMQP 0-9-1 cannot peek: ``basic.get`` followed by a requeue marks the message *redelivered*, which
        Organism counts against its poison-message cap."""
        return None
