"""kombu's Redis transport, made to survive an item on a queue's list that is not a kombu message.

Any client can push anything onto a Redis list; organism.brokers.envelopes says what happens to an item that is not a
message.
"""

from __future__ import annotations

from typing import Any

from kombu.transport import redis

from organism.brokers import envelopes

TRANSPORT = "organism.brokers.redis_transport:Transport"


class Channel(redis.Channel):
    def _brpop_read(self, **options: Any) -> bool:
        try:
            return bool(super()._brpop_read(**options))
        except envelopes.UNPARSEABLE as error:
            # kombu rotated the queue the item came from to the end of its cycle just before parsing it
            envelopes.unparseable(error, self._queue_cycle.items[-1])
            return True


class Transport(envelopes.Delivering, redis.Transport):
    Channel = Channel
