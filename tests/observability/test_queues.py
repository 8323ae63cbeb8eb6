"""Depth and oldest-message age read from each broker, on private queues no worker consumes."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from kombu import Connection, Exchange, Queue

from organism.brokers import Broker, broker_for
from organism.headers import PUBLISHED_HEADER
from organism.observability.broker import BacklogClock, read_queues
from tests.support.services import RABBIT_VHOST

pytestmark = pytest.mark.integration
AGE_S = 30.0


@pytest.fixture(params=["redis", "sqlalchemy", "amqp"])
def broker(request: pytest.FixtureRequest, services: None,
           tmp_path: Path) -> Iterator[tuple[Broker, Connection, Queue]]:
    url = {"redis": "redis://127.0.0.1:6379/12", "sqlalchemy": f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}",
           "amqp": f"amqp://guest:guest@127.0.0.1:5672/{RABBIT_VHOST}"}[request.param]
    name = f"obs.probe.{uuid.uuid4().hex[:8]}"
    queue = Queue(name, Exchange(name, type="direct"), routing_key=name, auto_delete=False)
    # On RabbitMQ a confirmed publish is routed, and so counted, by the time it returns.
    options = {"confirm_publish": True} if request.param == "amqp" else {}
    with Connection(url, transport_options=options) as connection:
        queue(connection.default_channel).declare()
        yield broker_for(url), connection, queue
        queue(connection.default_channel).delete()


def _publish(connection: Connection, queue: Queue, count: int, published_at: float) -> None:
    with connection.Producer() as producer:
        for n in range(count):
            producer.publish({"n": n}, exchange=queue.exchange, routing_key=queue.routing_key, serializer="json",
                             headers={PUBLISHED_HEADER: published_at + n})


def test_depth_is_exact_and_age_is_read_where_the_broker_allows(broker: tuple[Broker, Connection, Queue]) -> None:
    kind, connection, queue = broker
    clock = BacklogClock()
    empty = read_queues(kind, connection, [queue.name], clock)[0]
    before_publish = time.time()
    _publish(connection, queue, 3, before_publish - AGE_S)

    waiting = read_queues(kind, connection, [queue.name], clock)[0]

    assert (empty.messages, empty.oldest_age_s) == (0, 0.0)
    assert waiting.messages == 3
    assert waiting.oldest_age_s is not None
    if connection.transport.driver_type == "amqp":  # no peek: the time since the queue was last seen empty
        assert waiting.consumers == 0 and 0 <= waiting.oldest_age_s < time.time() - before_publish + 1
    else:  # the oldest message's own publish stamp
        assert waiting.consumers is None and AGE_S <= waiting.oldest_age_s < AGE_S + 5


def test_a_queue_the_broker_has_never_seen_is_empty(broker: tuple[Broker, Connection, Queue]) -> None:
    kind, connection, _ = broker

    missing = read_queues(kind, connection, [f"obs.never.{uuid.uuid4().hex[:8]}"], BacklogClock())[0]

    assert missing.messages == 0 and missing.oldest_age_s == 0.0
