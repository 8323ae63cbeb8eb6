"""Messages published in ``confirmed_together`` are confirmed by RabbitMQ when the block ends, whether the code in
the block was handed the block's producer or not (a canvas is not); a message RabbitMQ refuses fails the block."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from celery import group
from kombu import Exchange, Queue

from organism.brokers.confirms import PublishNotConfirmed, confirmed_together
from tests.conftest import Cluster
from tests.support.services import rabbitmqctl

pytestmark = pytest.mark.integration
EXCHANGE = Exchange("organism.test.confirms", type="direct", durable=False, auto_delete=False)


@pytest.fixture
def small_queue(production: Cluster) -> Iterator[Queue]:
    """A queue that holds two messages and makes RabbitMQ refuse (nack) any more."""
    queue = Queue(f"organism.test.confirms.{uuid.uuid4().hex[:8]}", EXCHANGE, routing_key="small", durable=False,
                  queue_arguments={"x-max-length": 2, "x-overflow": "reject-publish"})
    with production.app.connection_for_write() as connection:
        queue(connection.default_channel).declare()
        yield queue
        queue(connection.default_channel).delete()


def _held(production: Cluster, queue: Queue) -> int:
    with production.app.connection_for_write() as connection:
        return queue(connection.default_channel).queue_declare(passive=True).message_count


def _calls(production: Cluster, count: int) -> group:
    hand_on = production.app.tasks["organism.hand_on"]
    return group(hand_on.si(i).set(exchange=EXCHANGE.name, routing_key="small") for i in range(count))


def test_what_was_published_together_is_held_when_the_block_ends(production: Cluster, small_queue: Queue) -> None:
    with confirmed_together(production.app):
        _calls(production, 2).apply_async()  # a canvas: Celery hands its tasks no producer of ours

    assert _held(production, small_queue) == 2


def test_a_refused_message_fails_the_block_that_published_it(production: Cluster, small_queue: Queue) -> None:
    refused = pytest.raises(PublishNotConfirmed, match=r"refused \(nacked\) 3 of 5 messages")
    with refused, confirmed_together(production.app):
        _calls(production, 5).apply_async()

    assert _held(production, small_queue) == 2


def test_a_block_inside_another_is_confirmed_with_the_outer_one(production: Cluster, small_queue: Queue) -> None:
    refused = pytest.raises(PublishNotConfirmed, match=r"refused \(nacked\) 1 of 3 messages")
    with refused, confirmed_together(production.app) as outer:
        with confirmed_together(production.app) as inner:
            assert inner is outer
            _calls(production, 2).apply_async()
        _calls(production, 1).apply_async()


def test_a_block_reconnects_a_pooled_connection_that_rabbitmq_closed(production: Cluster, small_queue: Queue) -> None:
    # As after a RabbitMQ restart: the connection waiting in the app's pool is closed at the broker's end, which
    # its owner hears of only when it next uses it.
    with production.app.pool.acquire(block=True) as pooled:
        pooled.ensure_connection()
        here = "{}:{}".format(*pooled.connection.sock.getsockname())
    listed = [line.split("\t") for line in rabbitmqctl("list_connections", "pid", "name").stdout.splitlines()]
    pid = next((fields[0] for fields in listed if fields[-1].startswith(f"{here} -> ")), None)
    assert pid is not None, f"RabbitMQ lists no connection from {here}: {listed}"
    rabbitmqctl("close_connection", pid, "closed by the test, as a broker restart would")

    with confirmed_together(production.app):
        _calls(production, 2).apply_async()

    assert _held(production, small_queue) == 2
