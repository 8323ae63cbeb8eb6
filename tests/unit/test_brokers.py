"""broker_for: every supported broker URL picks its transport; any other is one line that keeps its secrets."""

from __future__ import annotations

import pytest

from organism.brokers import broker_for
from organism.brokers.amqp import AmqpBroker
from organism.brokers.embedded import TRANSPORT as SQL_TRANSPORT
from organism.brokers.redis import RedisBroker
from organism.brokers.redis_transport import TRANSPORT as REDIS_TRANSPORT
from organism.brokers.sql import SqlBroker
from organism.settings import SettingsError, masked

SUPPORTED = ("amqp://, amqps://, pyamqp://, redis://, rediss://, sqlalchemy+<database URL>, "
             "sqla+<database URL>")


@pytest.mark.parametrize(("url", "kind", "celery_url", "transport"), [
    ("amqp://guest:guest@127.0.0.1:5672//", AmqpBroker, "amqp://guest:guest@127.0.0.1:5672//", None),
    ("amqps://u:pw@rabbit:5671/vh", AmqpBroker, "amqps://u:pw@rabbit:5671/vh", None),
    ("pyamqp://guest@rabbit//", AmqpBroker, "pyamqp://guest@rabbit//", None),
    ("redis://127.0.0.1:6379/0", RedisBroker, "redis://127.0.0.1:6379/0", REDIS_TRANSPORT),
    ("rediss://:pw@redis:6380/1", RedisBroker, "rediss://:pw@redis:6380/1", REDIS_TRANSPORT),
    ("sqlalchemy+sqlite:////var/organism/broker.sqlite", SqlBroker, "sqlite:////var/organism/broker.sqlite",
     SQL_TRANSPORT),
    ("sqla+postgresql://u:pw@db/broker", SqlBroker, "postgresql://u:pw@db/broker", SQL_TRANSPORT),
])
def test_each_scheme_picks_its_broker_and_what_celery_connects_with(
        url: str, kind: type, celery_url: str, transport: str | None) -> None:
    broker = broker_for(url)

    assert type(broker) is kind
    assert (broker.celery_url, broker.transport) == (celery_url, transport)


def test_only_rabbitmq_moves_rejected_messages_to_the_dead_letter_queue_itself() -> None:
    assert broker_for("amqp://rabbit//").dead_letters_rejected
    assert not broker_for("redis://redis/0").dead_letters_rejected
    assert not broker_for("sqla+sqlite:///b.sqlite").dead_letters_rejected


@pytest.mark.parametrize(("url", "problem"), [
    ("memory://u:hunter2@localhost/", "unsupported scheme memory://"),
    ("sqs://AKIA:hunter2@", "unsupported scheme sqs://"),
    ("AMQP://guest:hunter2@rabbit//", "unsupported scheme AMQP://"),
    ("guest:hunter2@rabbit:5672//", "not a URL"),
    ("hunter2 at rabbit://x", "not a URL"),
])
def test_any_other_url_is_refused_in_one_line_naming_its_scheme_but_no_secret(url: str, problem: str) -> None:
    with pytest.raises(SettingsError) as raised:
        broker_for(url)

    assert str(raised.value) == f"setting ORGANISM_BROKER_URL: {problem}; use {SUPPORTED}"
    assert "hunter2" not in str(raised.value)


@pytest.mark.parametrize(("url", "shown"), [
    ("sqla+postgresql://u:pw@db/broker", "sqla+postgresql://u:***@db/broker"),
    ("sqlalchemy+postgresql+psycopg://u:pw@db/broker", "sqlalchemy+postgresql+psycopg://u:***@db/broker"),
    ("rediss://:pw@redis:6380/1", "rediss://:***@redis:6380/1"),
])
def test_every_broker_url_is_shown_without_its_password(url: str, shown: str) -> None:
    assert masked(url) == shown
