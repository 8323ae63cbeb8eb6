"""Settings: profiles pick URLs, explicit URLs win, and a wrong value names its setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from organism.app import celery_config
from organism.settings import SettingsError, load, masked


def test_embedded_is_the_default_and_keeps_everything_in_sqlite(tmp_path: Path) -> None:
    settings = load(data_dir=tmp_path)

    assert settings.profile == "embedded"
    assert settings.broker == f"sqlalchemy+sqlite:///{tmp_path}/broker.sqlite"
    assert settings.results == f"db+sqlite:///{tmp_path}/results.sqlite"
    assert settings.database == f"sqlite:///{tmp_path}/organism.sqlite"


def test_production_profile_points_at_rabbitmq_redis_and_postgres_and_urls_override() -> None:
    settings = load(profile="production", database_url="postgresql+psycopg://db/organism")

    assert settings.broker.startswith("amqp://")
    assert settings.results.startswith("redis://")
    assert settings.database == "postgresql+psycopg://db/organism"


def test_celery_config_is_json_only_with_late_acks_and_a_queue_per_organ() -> None:
    config = celery_config(load(profile="production"))

    assert config["accept_content"] == ["json"] and config["task_serializer"] == "json"
    assert config["task_acks_late"] and config["task_reject_on_worker_lost"]
    assert config["worker_prefetch_multiplier"] == 1
    queues = {q.name: q for q in config["task_queues"]}
    assert list(queues) == ["perception", "judgment", "relationship", "evolution"]
    assert all(q.durable for q in queues.values())
    assert queues["judgment"].queue_arguments == {
        "x-dead-letter-exchange": "organism.dead", "x-dead-letter-routing-key": "judgment", "x-max-priority": 10}


def test_redis_visibility_timeout_must_outlast_the_task_time_limit() -> None:
    with pytest.raises(SettingsError, match="settings: ORGANISM_REDIS_VISIBILITY_TIMEOUT_S must exceed ORGANISM_TASK"):
        load(task_time_limit_s=7200, task_soft_time_limit_s=7000)


def test_several_bad_values_are_each_named() -> None:
    with pytest.raises(SettingsError) as raised:
        load(daily_sync_minute=61, worker_concurrency={"perception": "many"})

    assert str(raised.value).splitlines() == [
        "setting ORGANISM_DAILY_SYNC_MINUTE: Input should be less than or equal to 59 (got 61)",
        "setting ORGANISM_WORKER_CONCURRENCY[perception]: Input should be a valid integer, "
        "unable to parse string as an integer (got 'many')",
    ]


def test_a_bad_value_in_a_group_names_its_nested_variable() -> None:
    with pytest.raises(SettingsError) as raised:
        load(gateway={"max_concurrency": 0})

    assert str(raised.value) == "setting ORGANISM_GATEWAY__MAX_CONCURRENCY: Input should be greater than or equal " \
                                "to 1 (got 0)"


def test_passwords_are_masked_in_urls_shown_to_people() -> None:
    assert masked("amqp://guest:hunter2@rabbit:5672//") == "amqp://guest:***@rabbit:5672//"
    assert masked("db+postgresql://u:pw@h/d") == "db+postgresql://u:***@h/d"
