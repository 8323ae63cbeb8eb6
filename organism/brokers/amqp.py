"""RabbitMQ (``amqp://``, ``amqps://``, ``pyamqp://``): confirmed publishes, priorities, and a dead-letter exchange
that the broker itself moves rejected messages to (their ``x-death`` header says why)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from organism.brokers.base import Broker
from organism.brokers.queues import DEAD_LETTER_EXCHANGE

if TYPE_CHECKING:
    from organism.settings import Settings


class AmqpBroker(Broker):
    prefixes = ("amqp://", "amqps://", "pyamqp://")
    dead_letters_rejected = True
    counts_consumers = True
    start = "start RabbitMQ (scripts/services, or `docker compose up -d rabbitmq`)"

    def transport_options(self, settings: Settings) -> dict[str, Any]:
        return {"confirm_publish": True}

    def queue_arguments(self, settings: Settings, organ: str) -> dict[str, Any]:
        """The dead-letter exchange and a priority maximum, from the first declaration: RabbitMQ refuses to
        redeclare a queue with new arguments."""
        return {"x-dead-letter-exchange": DEAD_LETTER_EXCHANGE.name, "x-dead-letter-routing-key": organ,
                "x-max-priority": settings.max_priority}

    def oldest_payloads(self, channel: Any, queue: str) -> None:
        """AMQP 0-9-1 cannot peek: ``basic.get`` followed by a requeue marks the message *redelivered*, which
        Organism counts against its poison-message cap."""
        return None
