"""Queue depth and the age of the oldest waiting message, per queue, read from the broker itself.

Depth is exact on every transport: a passive ``queue_declare`` returns the count of ready messages (RabbitMQ
also says how many consumers the queue has). Age comes from the :data:`PUBLISHED_HEADER` that every producer
stamps on its messages (hooks.py), read where the broker lets us look without side effects (each broker's
``oldest_payloads``, organism.brokers):

* Redis: the oldest element of each priority list is peeked with ``LINDEX`` (kombu pushes left, pops right);
* the SQL transport: the oldest visible row is read;
* RabbitMQ: AMQP 0-9-1 cannot peek. ``basic.get`` followed by a requeue marks the message *redelivered*, which
  Organism counts against its poison-message cap, so it is not done. Instead a :class:`BacklogClock` reports
  the time since this process last saw the queue empty: every message published since then is younger, so it
  bounds the oldest message's age from above (a message returned to the queue by a lost worker excepted).
  Until the process has seen the queue empty once, the age is unknown.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kombu import Connection
from kombu.exceptions import ChannelError

from organism.brokers.queues import DEAD_LETTER_QUEUE
from organism.headers import published_at

if TYPE_CHECKING:
    from organism.brokers.base import Broker


@dataclass(frozen=True)
class QueueState:
    """One queue as the broker sees it now.

    Attributes:
        consumers: consumers attached (RabbitMQ only; None where the broker does not say).
        oldest_age_s: age of the oldest waiting message (see the module docstring for RabbitMQ); None if unknown.
    """

    name: str
    messages: int
    consumers: int | None
    oldest_age_s: float | None


class BacklogClock:
    """Per queue, when this process last saw it empty; the age bound it gives (None before the first empty)."""

    def __init__(self) -> None:
        self._empty_at: dict[str, float] = {}

    def age_s(self, queue: str, messages: int, now: float) -> float | None:
        if messages == 0:
            self._empty_at[queue] = now
            return 0.0
        empty_at = self._empty_at.get(queue)
        return None if empty_at is None else now - empty_at


def queue_names(organs: Iterable[str]) -> list[str]:
    """The queues worth watching: one per organ, and the dead-letter queue."""
    return [*organs, DEAD_LETTER_QUEUE]


def read_queues(broker: Broker, connection: Connection, names: list[str], clock: BacklogClock) -> list[QueueState]:
    """The state of each queue in ``names`` on ``broker``; a queue the broker does not know yet is empty."""
    states = []
    for name in names:
        channel = connection.channel()  # RabbitMQ closes a channel on a failed passive declare
        try:
            try:
                declared = channel.queue_declare(queue=name, passive=True)
                messages, consumers = int(declared.message_count), int(declared.consumer_count)
            except ChannelError:
                messages, consumers = 0, 0
            now = time.time()
            payloads = broker.oldest_payloads(channel, name) if messages else None
            if payloads is None:  # an empty queue (age 0), or one the broker cannot peek (RabbitMQ)
                age = clock.age_s(name, messages, now)
            else:
                stamps = [stamp for stamp in map(published_at, payloads) if stamp is not None]
                age = max(0.0, now - min(stamps)) if stamps else None
        finally:
            _close(channel)
        states.append(QueueState(name, messages, consumers if broker.counts_consumers else None, age))
    return states


def _close(channel: Any) -> None:
    with contextlib.suppress(Exception):  # a channel the broker already closed
        channel.close()
