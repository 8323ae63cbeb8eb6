"""What ``rabbitmq_queue_type`` changes in the Celery configuration, without a broker: the organ queues' arguments and
exchange, and the countdown a retry is sent with. tests/integration/test_quorum_queues.py runs them on RabbitMQ."""

from __future__ import annotations

import pytest
from celery.utils.quorum_queues import detect_quorum_queues

from organism.app import celery_config, create_app
from organism.brokers import broker_for
from organism.settings import load


def test_quorum_organ_queues_dead_letter_at_least_once_on_a_topic_exchange_without_priorities() -> None:
    config = celery_config(load(profile="production", rabbitmq_queue_type="quorum"))

    for queue in config["task_queues"]:
        assert queue.queue_arguments == {
            "x-queue-type": "quorum", "x-dead-letter-exchange": "organism.dead",
            "x-dead-letter-routing-key": queue.name, "x-dead-letter-strategy": "at-least-once",
            "x-overflow": "reject-publish"}
        # Celery's native delayed delivery binds a queue's exchange to its own, and skips a direct one.
        assert (queue.exchange.name, queue.exchange.type, queue.routing_key) == ("organism.topic", "topic", queue.name)
    assert config["task_default_exchange"] == "organism.topic"


def test_celery_sees_quorum_queues_and_so_consumes_without_global_qos() -> None:
    quorum = create_app(load(profile="production", rabbitmq_queue_type="quorum"))
    classic = create_app(load(profile="production"))

    assert detect_quorum_queues(quorum, "amqp") == (True, "perception")
    assert detect_quorum_queues(classic, "amqp") == (False, "")


def test_classic_organ_queues_stay_as_they_were() -> None:
    [queue, *_] = celery_config(load(profile="production"))["task_queues"]

    assert (queue.exchange.name, queue.exchange.type) == ("organism", "direct")
    assert "x-queue-type" not in queue.queue_arguments and queue.queue_arguments["x-max-priority"] == 10


@pytest.mark.parametrize(("wanted_s", "sent_s"), [(0.0, 0.0), (0.3, 1.0), (1.0, 1.0), (2.1, 3.0), (600.0, 600.0)])
def test_a_countdown_on_quorum_queues_is_whole_seconds_never_shorter(wanted_s: float, sent_s: float) -> None:
    quorum = load(profile="production", rabbitmq_queue_type="quorum")

    assert broker_for(quorum.broker).countdown_s(quorum, wanted_s) == sent_s
    for other in (load(profile="production"), load(profile="redis"), load(profile="embedded")):
        assert broker_for(other.broker).countdown_s(other, wanted_s) == wanted_s
