"""The organism.dead queue keeps what its retention allows (``ORGANISM_DEAD_QUEUE_MAX_LENGTH``, ``_MAX_AGE_S``),
while every dead letter's row stays in the store.

RabbitMQ enforces both from the queue's arguments; on Redis and the SQL transport the app trims the queue each
time it adds a copy. RabbitMQ keeps a queue's arguments for life, so these tests use a vhost of their own, and a
queue declared earlier without the retention is used as it is, with one line that says how to apply it.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from kombu import Connection, Queue

from organism import store
from organism.app import Organism, create_app
from organism.brokers import broker_for
from organism.brokers.queues import DEAD_LETTER_EXCHANGE, DEAD_LETTER_QUEUE, declare_dead_letters
from organism.failures import dead_letters
from organism.headers import PUBLISHED_HEADER
from organism.local import LocalWorkers
from organism.observability.broker import BacklogClock, read_queues
from tests.conftest import make_settings
from tests.support.dead_queue import drain, task_id
from tests.support.services import ROOT, ensure_services, own_rabbit_vhost, profile_env, wait_for

pytestmark = pytest.mark.integration
VHOST = f"organism_retention_{os.getpid()}"
AMQP_URL = f"amqp://guest:guest@127.0.0.1:5672/{VHOST}"
REDIS_URL = "redis://127.0.0.1:6379/5"  # these tests' own database, emptied before each
BROKERS = {"production": AMQP_URL, "redis": REDIS_URL}


@pytest.fixture(scope="module")
def rabbit_vhost() -> Iterator[str]:
    ensure_services()
    with own_rabbit_vhost(VHOST, "the retention tests") as vhost:
        yield vhost


@pytest.fixture
def fresh(rabbit_vhost: str) -> None:
    """No dead-letter queue on either broker yet."""
    with Connection(AMQP_URL) as connection:
        connection.default_channel.queue_delete(DEAD_LETTER_QUEUE)
    redis.Redis.from_url(REDIS_URL).flushdb()


def env_for(profile: str, data_dir: Path, **retention: str) -> dict[str, str]:
    env = profile_env(profile, data_dir) | {"ORGANISM_DATABASE_URL": f"sqlite:///{data_dir}/organism.sqlite",
                                            "PYTHONPATH": str(ROOT)}
    if profile in BROKERS:
        env["ORGANISM_BROKER_URL"] = BROKERS[profile]
    return env | {f"ORGANISM_DEAD_QUEUE_{name.upper()}": value for name, value in retention.items()}


def depth(app: Organism) -> int:
    """Messages on the dead-letter queue, as the metrics exporter reads them."""
    with app.connection_for_read() as connection:
        [state] = read_queues(broker_for(app.settings.broker), connection, [DEAD_LETTER_QUEUE], BacklogClock())
    return state.messages


@pytest.mark.parametrize("profile", ["production", "redis", "embedded"])
def test_the_dead_queue_keeps_its_newest_messages_and_the_store_keeps_every_letter(
        profile: str, fresh: None, tmp_path: Path) -> None:
    env = env_for(profile, tmp_path, max_length="2", max_age_s="0")
    settings = make_settings(env)
    store.migrate(settings.database)
    app = create_app(settings)
    app.set_current()
    with LocalWorkers(settings, env=env, log_dir=tmp_path / "logs", organs=["perception"]):
        calls = [app.send_task("test.refuse", args=[f"letter {n}"]) for n in range(4)]
        for call in calls:
            with pytest.raises(Exception, match="letter"):
                call.get(timeout=60)
        ids = {call.id for call in calls}
        wait_for(lambda: {letter.task_id for letter in dead_letters.find(settings.database, skill="test.refuse")}
                 == ids, 20, "the four dead letters in the store")
        # which two are kept depends on the order the pool's two processes finished in (the broker-level tests
        # below show it is the newest)
        wait_for(lambda: depth(app) == 2, 20, "two messages on the dead-letter queue")
        kept = drain(app)
    assert len(kept) == 2 and {task_id(*message) for message in kept} < ids, kept


def _publish(app: Organism, count: int, published_at: float | None = None, exchange: str = "",
             routing_key: str = DEAD_LETTER_QUEUE) -> None:
    """``count`` messages onto the dead-letter queue as another client might put them there (by default through
    the default exchange, straight to the queue)."""
    headers = {PUBLISHED_HEADER: published_at} if published_at is not None else {}
    with app.producer_or_acquire() as producer:
        for n in range(count):
            producer.publish({"n": n}, exchange=exchange, routing_key=routing_key, serializer="json", headers=headers)


def _letter(n: int) -> dead_letters.Letter:
    return dead_letters.Letter(task_id=f"retention-{n}", task_name="test.refuse", organ="perception", run_id=None,
                               node=None, args=[n], kwargs={}, reason="permanent", error_type="PermanentError",
                               error_message="no", traceback=None, attempts=[], delivery_count=1)


@pytest.mark.parametrize("profile", ["redis", "embedded"])
def test_copies_older_than_the_age_limit_go_when_the_next_copy_comes(profile: str, fresh: None,
                                                                     tmp_path: Path) -> None:
    app = create_app(make_settings(env_for(profile, tmp_path, max_length="0", max_age_s="3600")))
    with app.connection_for_write() as connection:
        declare_dead_letters(connection, app.settings, broker_for(app.settings.broker))
    _publish(app, 2, published_at=time.time() - 7200)  # two hours old
    _publish(app, 1)  # no publish time: written before the retention, or by something else
    _publish(app, 1, published_at=time.time() - 60)
    assert depth(app) == 4

    dead_letters.publish_copy(app, _letter(1))

    assert [body.get("n", body.get("args")) for _, body in drain(app)] == [0, [1]]


def test_rabbitmq_drops_the_oldest_past_the_length_and_each_message_past_its_age(fresh: None, tmp_path: Path) -> None:
    capped = create_app(make_settings(env_for("production", tmp_path, max_length="3", max_age_s="0")))
    with capped.connection_for_write() as connection:
        declare_dead_letters(connection, capped.settings, broker_for(capped.settings.broker))
    _publish(capped, 5)
    assert [body["n"] for _, body in drain(capped)] == [2, 3, 4]

    with Connection(AMQP_URL) as connection:
        connection.default_channel.queue_delete(DEAD_LETTER_QUEUE)
    aged = create_app(make_settings(env_for("production", tmp_path, max_length="0", max_age_s="0.5")))
    with aged.connection_for_write() as connection:
        declare_dead_letters(connection, aged.settings, broker_for(aged.settings.broker))
    _publish(aged, 2)
    wait_for(lambda: depth(aged) == 0, 20, "RabbitMQ to drop the messages past their age")


def test_a_dead_queue_declared_without_retention_is_used_as_it_is_and_one_line_says_how_to_apply_it(
        fresh: None, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    app = create_app(make_settings(env_for("production", tmp_path)))
    with Connection(AMQP_URL) as connection:  # as a worker of an earlier release declared it
        Queue(DEAD_LETTER_QUEUE, DEAD_LETTER_EXCHANGE, routing_key="perception", durable=True)(
            connection.default_channel).declare()
    _publish(app, 1)

    with caplog.at_level(logging.WARNING, logger="organism.brokers.queues"), \
            app.connection_for_write() as connection:
        declare_dead_letters(connection, app.settings, broker_for(app.settings.broker))
    _publish(app, 1, exchange=DEAD_LETTER_EXCHANGE.name, routing_key="judgment")  # bound despite the refusal

    [line] = [record.getMessage() for record in caplog.records]
    assert line.startswith("the dead-letter queue organism.dead was declared earlier with other arguments (")
    assert "PRECONDITION_FAILED - inequivalent arg" in line
    assert ("rabbitmqctl set_policy -p <vhost> --apply-to queues organism-dead '^organism\\.dead$' "
            '\'{"message-ttl": 604800000, "max-length": 10000}\'') in line
    assert "rabbitmqctl delete_queue -p <vhost> organism.dead" in line
    assert [body["n"] for _, body in drain(app)] == [0, 0]
