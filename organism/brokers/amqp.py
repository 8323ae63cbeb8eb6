"""RabbitMQ (``amqp://``, ``amqps://``, ``pyamqp://``): confirmed publishes, priorities, and a dead-letter exchange
that the broker itself moves rejected messages to (their ``x-death`` header says why)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

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

    @property
    def management_api(self) -> str:
        """The management plugin on the broker's host, as the broker's user: ``http://user:pass@host:15672/api/``
        (``https`` on 15671 for ``amqps://``); kombu's guest/guest and localhost where the URL names none."""
        parts = urlsplit(self.url)
        scheme, port = ("https", 15671) if parts.scheme == "amqps" else ("http", 15672)
        host = parts.hostname or "localhost"
        host = f"[{host}]" if ":" in host else host
        return f"{scheme}://{parts.username or 'guest'}:{parts.password or 'guest'}@{host}:{port}/api/"

    def queue_arguments(self, settings: Settings, organ: str) -> dict[str, Any]:
        """The dead-letter exchange and a priority maximum, from the first declaration: RabbitMQ refuses to
        redeclare a queue with new arguments."""
        return {"x-dead-letter-exchange": DEAD_LETTER_EXCHANGE.name, "x-dead-letter-routing-key": organ,
                "x-max-priority": settings.max_priority}

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
