"""The message brokers and result backends Organism runs on: RabbitMQ, Redis and the embedded SQLite profile.

Each broker is one module behind one interface (:class:`.base.Broker`): :mod:`.amqp`, :mod:`.redis` and
:mod:`.sql`, picked from the broker URL by :func:`broker_for` (:mod:`.kinds`). Shared by all of them: queue
declarations and routing (:mod:`.queues`), and the check that dead-letters an item that is not a message
(:mod:`.envelopes`, used by the kombu transports of :mod:`.redis_transport` and :mod:`.embedded`). The result
backends never unpickle (:mod:`.results`, and the embedded profile's in :mod:`.embedded`).
"""

from organism.brokers.base import Broker
from organism.brokers.kinds import broker_for

__all__ = ["Broker", "broker_for"]
