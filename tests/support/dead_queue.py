"""Reading the organism.dead queue back: the messages a broker moved there, or the copies the app put there."""

from __future__ import annotations

from typing import Any

from kombu import Message, Queue
from kombu.exceptions import DecodeError

from organism.app import Organism
from organism.brokers.queues import DEAD_LETTER_EXCHANGE, DEAD_LETTER_QUEUE


def drain(app: Organism) -> list[tuple[dict[str, Any], Any]]:
    """Take every message off the dead-letter queue, oldest first: (headers, body) each. A body that is no JSON
    (a hostile message an earlier test sent on the same vhost, dead-lettered as it came, even one that claims to be
    JSON) is None."""
    with app.connection_for_write() as connection:
        queue = Queue(DEAD_LETTER_QUEUE, DEAD_LETTER_EXCHANGE)(connection.default_channel)
        return [(message.headers or {}, _body(message))
                for message in iter(lambda: queue.get(no_ack=True, accept=["json"]), None)]


def _body(message: Message) -> Any:
    if message.content_type != "application/json":
        return None
    try:
        return message.decode()
    except DecodeError:
        return None


def task_id(headers: dict[str, Any], body: Any) -> str | None:
    """The task a dead-letter message stands for: RabbitMQ moves the task's own message, elsewhere the app
    publishes a copy whose body names it; None for a message that names none."""
    given = headers.get("id") or (body.get("id") if isinstance(body, dict) else None)
    return None if given is None else str(given)
