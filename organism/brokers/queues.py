"""One durable queue per organ on one direct exchange, plus the dead-letter exchange they point at and its queue.

The dead-letter queue holds the messages themselves; the store's dead letters are the durable record. So it keeps
them for a while only (``dead_queue_max_age_s``, ``dead_queue_max_length``): RabbitMQ enforces both from the
queue's arguments, and on Redis and the SQL transport the app trims the queue each time it adds a message there
(each broker's ``trim_dead_queue``).
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from kombu import Connection, Exchange, Queue

from organism.settings import Settings

if TYPE_CHECKING:
    from organism.brokers.base import Broker

logger = logging.getLogger(__name__)

EXCHANGE = Exchange("organism", type="direct", durable=True)
# The organ queues' exchange when they are quorum queues (organism.brokers.amqp): a routing key that names an organ
# routes as it would through a direct exchange, since organ names are identifiers (no dots, no wildcards).
TOPIC_EXCHANGE = Exchange("organism.topic", type="topic", durable=True)
DEAD_LETTER_EXCHANGE = Exchange("organism.dead", type="direct", durable=True)
DEAD_LETTER_QUEUE = "organism.dead"
PRECONDITION_FAILED = 406  # AMQP's reply code for a declaration with other arguments than the queue has


def organ_queues(settings: Settings, broker: Broker) -> list[Queue]:
    """The organ queues, with the arguments ``broker`` declares them with (RabbitMQ: dead-lettering, priorities)."""
    exchange = broker.organ_exchange(settings)
    return [Queue(organ, exchange, routing_key=organ, durable=True,
                  queue_arguments=broker.queue_arguments(settings, organ))
            for organ in settings.organs]


def declare_organ_queues(connection: Connection, settings: Settings, broker: Broker,
                         create: bool = True) -> list[tuple[str, str, str]]:
    """Declare each organ queue as settings describe it; for each the broker refuses: its name, the broker's
    reason and how to fix it.

    RabbitMQ keeps a queue's arguments for life and refuses a declaration with others (``PRECONDITION_FAILED``):
    a classic queue cannot become a quorum queue, nor change its priority maximum, where it stands. A worker
    declares every organ's queue before it consumes (so Celery's delayed delivery can bind them all) and stops
    on a refusal; ``organism doctor`` passes ``create=False`` and leaves a queue that does not exist yet alone.
    """
    refused = []
    for queue in organ_queues(settings, broker):
        channel = connection.channel()
        try:
            if create:
                queue(channel).declare()
            else:
                try:
                    queue(channel).queue_declare(passive=True)
                except connection.channel_errors:  # not there yet: the first worker or producer declares it
                    continue
                channel = connection.channel()  # the passive declaration compared no arguments
                queue(channel).queue_declare()
        except connection.channel_errors as error:  # RabbitMQ closed the channel
            if getattr(error, "code", None) != PRECONDITION_FAILED:  # not a question of arguments
                raise
            refused.append((queue.name, str(error), _redeclare_fix(settings, queue.name, connection.virtual_host)))
            continue
        channel.close()
    return refused


def _redeclare_fix(settings: Settings, queue: str, vhost: str) -> str:
    """How to give an existing RabbitMQ organ queue the arguments settings give it."""
    wanted = ("make it a quorum queue" if settings.rabbitmq_queue_type == "quorum"
              else "give it these settings' arguments")
    return (f"to {wanted}, stop the producers (beat, console), let the workers of the old settings drain it "
            f"(rabbitmqctl list_queues -p {vhost} name messages shows 0), stop them, delete it (rabbitmqctl "
            f"delete_queue -p {vhost} {queue}) and start the workers again; or move to a new vhost "
            "(docs/deploy.md, Quorum queues)")


def route_by_organ(name: str, args: Any, kwargs: Any, options: dict[str, Any], task: Any = None,
                   **_: Any) -> dict[str, str] | None:
    """Celery router: a skill goes to its organ's queue; anything else takes the default route."""
    info = getattr(task, "skill", None)
    return {"queue": info.organ, "routing_key": info.organ} if info is not None else None


def dead_letter_queue(settings: Settings, broker: Broker) -> Queue:
    """The dead-letter queue, bound to the dead-letter exchange for the first organ's routing key, with the
    arguments ``broker`` declares it with (RabbitMQ: its retention)."""
    return Queue(DEAD_LETTER_QUEUE, DEAD_LETTER_EXCHANGE, durable=True, routing_key=settings.organs[0],
                 queue_arguments=broker.dead_queue_arguments(settings))


def declare_dead_letters(connection: Connection, settings: Settings, broker: Broker) -> None:
    """Declare the dead-letter exchange and its queue, bound for every organ's routing key.

    RabbitMQ keeps a queue's arguments for life and refuses a declaration with others (``PRECONDITION_FAILED``):
    a queue declared before its retention was configured, or with other values, is used as it is, and one line
    says how to apply the retention.
    """
    queue = dead_letter_queue(settings, broker)
    channel = connection.channel()
    try:
        queue(channel).declare()
    except connection.channel_errors as refused:  # RabbitMQ closed the channel
        channel = connection.channel()
        DEAD_LETTER_EXCHANGE(channel).declare()
        logger.warning("the dead-letter queue %s was declared earlier with other arguments (%s), so its retention "
                       "stays as it was: %s", DEAD_LETTER_QUEUE, refused,
                       _retention_fix(broker.dead_queue_arguments(settings)))
    try:
        for organ in settings.organs:
            queue(channel).bind_to(DEAD_LETTER_EXCHANGE, routing_key=organ)
    finally:
        channel.close()


def _retention_fix(arguments: dict[str, Any] | None) -> str:
    """How to give an existing RabbitMQ dead-letter queue the retention of ``arguments``."""
    policy = {name.removeprefix("x-"): value for name, value in (arguments or {}).items()}
    delete = (f"delete the queue while no worker runs (rabbitmqctl delete_queue -p <vhost> {DEAD_LETTER_QUEUE}; the "
              "store keeps every dead letter) and let the next worker declare it")
    if not policy:
        return delete
    return (f"apply it as a policy (rabbitmqctl set_policy -p <vhost> --apply-to queues organism-dead "
            f"'^organism\\.dead$' '{json.dumps(policy)}'), or {delete}")
