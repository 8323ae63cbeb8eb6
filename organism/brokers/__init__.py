"""The message brokers and result backends Organism runs on: RabbitMQ, Redis and the embedded SQLite profile.

Each transport's specifics live here: queue declarations and routing (:mod:`.queues`), the transports that
dead-letter an item that is not a message (:mod:`.envelopes`, :mod:`.redis_transport`, :mod:`.embedded`) and the
result backends that never unpickle (:mod:`.results`).
"""
