"""kombu's Redis transport, made to survive an item on a queue's list that is not a kombu message, and to serve
higher priorities first, as RabbitMQ does.

Any client can push anything onto a Redis list; organism.brokers.envelopes says what happens to an item that is not a
message.

kombu keeps a queue's messages in one list per step of ``priority_steps`` and files a message under its priority,
but reads the list of the lowest step first: on Redis, stock kombu serves priority 0 first and 9 last (Celery's docs
say so). Here a message is filed under ``9 - priority``, so that 9 (``critical``, organism.priorities) is served
first on every broker. Producers and workers must both use this transport (every Organism process does); a
message from a stock kombu producer is read with its priority the other way round.
"""

from __future__ import annotations

from typing import Any

from kombu.transport import redis

from organism.brokers import envelopes

TRANSPORT = "organism.brokers.redis_transport:Transport"


class Channel(redis.Channel):
    def _get_message_priority(self, message: Any, reverse: bool = False) -> int:
        # kombu asks for the step to file a message under (publish, and a restored unacked message) with
        # reverse=False; reversed, priority p goes to the list of step 9 - p, read before those of lower priorities.
        return int(super()._get_message_priority(message, reverse=not reverse))

    def _brpop_read(self, **options: Any) -> bool:
        try:
            return bool(super()._brpop_read(**options))
        except envelopes.UNPARSEABLE as error:
            # kombu rotated the queue the item came from to the end of its cycle just before parsing it
            envelopes.unparseable(error, self._queue_cycle.items[-1])
            return True


class Transport(envelopes.Delivering, redis.Transport):
    Channel = Channel
