"""``organism doctor``'s warnings: settings that work but that a production checklist rejects, one line each that
names the setting and the fix, and never a password."""

from __future__ import annotations

from typing import Any

import pytest

from organism.cli.checklist import cautions
from organism.settings import load

SECRET = "s3cret-Pa55"


def lines(**settings: Any) -> list[str]:
    return [caution.line() for caution in cautions(load(**settings))]


@pytest.mark.parametrize("profile", ["embedded", "production", "redis"])
def test_each_profile_as_shipped_draws_no_warning(profile: str) -> None:
    assert lines(profile=profile) == []


@pytest.mark.parametrize("url", [f"amqp://guest:{SECRET}@rabbit.internal:5672//", "amqp://10.1.2.3:5672/organism"])
def test_the_guest_user_on_a_remote_broker_is_named_with_the_fix(url: str) -> None:
    [line] = lines(profile="production", broker_url=url)

    host = "rabbit.internal" if "internal" in url else "10.1.2.3"
    assert line.startswith(f"WARN  ORGANISM_BROKER_URL: logs in as RabbitMQ's guest user on {host}")
    assert "rabbitmqctl add_user organism" in line and "rabbitmqctl delete_user guest" in line
    assert SECRET not in line


@pytest.mark.parametrize("url", ["amqp://guest:guest@127.0.0.1:5672//", "amqp://guest:guest@[::1]:5672//",
                                 "amqp://localhost//", f"amqp://organism:{SECRET}@rabbit.internal:5672//"])
def test_guest_on_loopback_or_a_user_of_its_own_is_fine(url: str) -> None:
    assert lines(profile="production", broker_url=url) == []


def test_heartbeats_switched_off_in_the_broker_url_are_named() -> None:
    [line] = lines(profile="production", broker_url=f"amqp://organism:{SECRET}@127.0.0.1:5672//?heartbeat=0")

    assert line.startswith("WARN  ORGANISM_BROKER_URL: heartbeat=0 switches AMQP heartbeats off")
    assert line.endswith("— remove heartbeat=0 from the URL (Celery's broker_heartbeat of 120 s then applies)")
    assert SECRET not in line
    assert lines(profile="production", broker_url="amqp://organism:x@127.0.0.1:5672//?heartbeat=30") == []


def test_a_redis_visibility_timeout_a_prefetching_worker_can_outlast_is_named() -> None:
    # The settings refuse a timeout below one time limit plus the longest countdown (360 + 600 s); a message
    # prefetched behind nine others can wait nine time limits more.
    [line] = lines(profile="redis", workers={"perception": {"prefetch": 10}})

    assert line == ("WARN  ORGANISM_REDIS_VISIBILITY_TIMEOUT_S: 3600 s is not longer than a message can stay "
                    "unacknowledged on perception's worker (prefetch 10 x time limit 360 s + the longest countdown "
                    "600 s = 4200 s): such a message is run a second time by another worker — raise it above 4200 s, "
                    "or lower [workers.perception] prefetch or time_limit_s")
    assert lines(profile="redis", workers={"perception": {"prefetch": 8}}) == []  # 3480 s
    assert lines(profile="production", workers={"judgment": {"prefetch": 10}}) != [], "RabbitMQ has its own limit"


def test_a_message_held_past_rabbitmqs_default_consumer_timeout_is_named() -> None:
    slow = {"judgment": {"soft_time_limit_s": 1400, "time_limit_s": 1500}}

    [line] = lines(profile="production", workers=slow, redis_visibility_timeout_s=7200)

    assert line.startswith("WARN  ORGANISM_WORKERS__JUDGMENT: a message can stay unacknowledged on judgment's worker "
                           "for prefetch 1 x time limit 1500 s + the longest countdown 600 s = 2100 s, past RabbitMQ's "
                           "default consumer_timeout (1800 s)")
    assert line.endswith("— set consumer_timeout above 2100000 (ms) in rabbitmq.conf, or lower the organ's prefetch "
                         "or time_limit_s")
    # On quorum queues the broker holds a retry's countdown, not the worker: 1500 s is within the timeout.
    [quorum] = lines(profile="production", workers=slow, redis_visibility_timeout_s=7200, rabbitmq_queue_type="quorum")
    assert quorum.startswith("WARN  ORGANISM_RABBITMQ_QUEUE_TYPE:")


def test_quorum_queues_say_what_they_cost_and_do_nothing_off_rabbitmq() -> None:
    assert lines(profile="production", rabbitmq_queue_type="quorum") == [
        "WARN  ORGANISM_RABBITMQ_QUEUE_TYPE: quorum organ queues have no priorities on RabbitMQ 3.x: a call's priority "
        "is ignored and it waits behind every call queued before it — keep classic queues where priorities matter "
        "(docs/deploy.md, Quorum queues)"]
    assert lines(profile="redis", rabbitmq_queue_type="quorum") == [
        "WARN  ORGANISM_RABBITMQ_QUEUE_TYPE: quorum has no effect: the broker is not RabbitMQ — unset it"]


@pytest.mark.parametrize(("setting", "value", "instead"), [
    ("database_url", "sqlite:////srv/organism.sqlite", "PostgreSQL"),
    ("broker_url", "sqlalchemy+sqlite:////srv/broker.sqlite", "RabbitMQ"),
    ("result_backend", "db+sqlite:////srv/results.sqlite", "Redis"),
])
def test_a_sqlite_file_on_the_production_profile_is_named(setting: str, value: str, instead: str) -> None:
    [line] = lines(profile="production", **{setting: value})

    assert line.startswith(f"WARN  ORGANISM_{setting.upper()}: a SQLite file on the production profile serves the "
                           "processes of one host only — point it at " + instead)
    assert lines(profile="embedded", **{setting: value}) == []
