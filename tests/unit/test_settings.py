"""Settings: profiles pick URLs, explicit URLs win, and a wrong value names its setting."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from organism.app import celery_config
from organism.settings import SettingsError, load, masked, unknown_variables

ROOT = Path(__file__).resolve().parents[2]


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
    longest = r"the longest time limit \(7200 s\)"
    with pytest.raises(SettingsError, match=rf"settings: ORGANISM_REDIS_VISIBILITY_TIMEOUT_S must exceed {longest}"):
        load(task_time_limit_s=7200, task_soft_time_limit_s=7000)


def test_several_bad_values_are_each_named() -> None:
    with pytest.raises(SettingsError) as raised:
        load(schedule_tick_s=7200, workers={"perception": {"concurrency": "many"}})

    assert str(raised.value).splitlines() == [
        "setting ORGANISM_SCHEDULE_TICK_S: Input should be less than or equal to 3600 (got 7200)",
        "setting ORGANISM_WORKERS[perception][concurrency]: Input should be a valid integer, "
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


def test_a_malformed_toml_file_is_named_with_the_line_and_column(environ: pytest.MonkeyPatch, tmp_path: Path) -> None:
    broken = tmp_path / "organism.toml"
    broken.write_text('profile = "production"\nbroker_url = "amqp://unterminated\n')
    environ.setenv("ORGANISM_CONFIG_FILE", str(broken))

    with pytest.raises(SettingsError) as raised:
        load()

    assert str(raised.value) == f"{broken}: not valid TOML: Illegal character '\\n' (at line 2, column 34)"


def test_bad_json_in_a_variable_names_the_variable_and_not_its_value(environ: pytest.MonkeyPatch) -> None:
    environ.setenv("ORGANISM_WORKERS", '{"perception": 2, token: "hunter2"}')

    with pytest.raises(SettingsError) as raised:
        load()

    assert str(raised.value).startswith("setting ORGANISM_WORKERS: not valid JSON (Expecting property name")
    assert str(raised.value).endswith("give a JSON object")
    assert "hunter2" not in str(raised.value)


def test_a_misspelt_variable_is_refused_with_the_setting_it_resembles(environ: pytest.MonkeyPatch) -> None:
    environ.setenv("ORGANISM_BROKER_ULR", "amqp://rabbit//")
    environ.setenv("ORGANISM_GATEWAY__MODLE", "gpt-4o-mini")
    environ.setenv("ORGANISM_FLOWER_PORT", "5556")
    environ.setenv("ORGANISM_NOTHING_LIKE_IT", "1")

    with pytest.raises(SettingsError) as raised:
        load()

    assert str(raised.value).splitlines() == [
        "setting ORGANISM_BROKER_ULR: no such setting; did you mean ORGANISM_BROKER_URL?",
        "setting ORGANISM_FLOWER_PORT: no such setting; did you mean ORGANISM_OBSERVABILITY__FLOWER_PORT?",
        "setting ORGANISM_GATEWAY__MODLE: no such setting; did you mean ORGANISM_GATEWAY__MODEL?",
        "setting ORGANISM_NOTHING_LIKE_IT: no such setting (ORGANISM_* names are reserved for settings)",
    ]


def test_a_misspelt_key_in_the_toml_file_is_refused_as_the_file_spells_it(environ: pytest.MonkeyPatch,
                                                                           tmp_path: Path) -> None:
    path = tmp_path / "organism.toml"
    path.write_text('timezone = "UTC"\nbroker_ulr = "amqp://rabbit//"\n[gateway]\nmodle = "m"\n'
                    '[workers.perception]\nconcurrency = 3\n')
    environ.setenv("ORGANISM_CONFIG_FILE", str(path))

    with pytest.raises(SettingsError) as raised:
        load()

    assert str(raised.value).splitlines() == [f"{path}: no such setting broker_ulr; did you mean broker_url?",
                                              f"{path}: no such setting gateway.modle; did you mean gateway.model?"]


def test_every_kind_of_variable_organism_reads_is_accepted(environ: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "organism.toml"
    path.write_text('[gateway]\nmodel = "m"\n')
    for name, value in {"ORGANISM_CONFIG_FILE": str(path), "ORGANISM_PROFILE": "production",
                        "ORGANISM_WORKERS__JUDGMENT__CONCURRENCY": "3", "ORGANISM_GATEWAY__MAX_CONCURRENCY": "4",
                        "ORGANISM_RABBITMQ_PASSWORD": "for docker compose", "organism_timezone": "UTC"}.items():
        environ.setenv(name, value)

    settings = load()

    assert settings.worker("judgment").concurrency == 3
    assert (settings.gateway.model, settings.gateway.max_concurrency, settings.timezone) == ("m", 4, "UTC")


# Where ORGANISM_* variables are set for Organism to read: none of them may be refused as unknown.
SETTERS = ("docker-compose.yml", "Dockerfile", "Procfile", "scripts", "bench", "organism", "config")


def test_every_variable_the_deploy_files_scripts_and_code_use_is_known() -> None:
    found = set()
    for top in SETTERS:
        for path in [ROOT / top] if (ROOT / top).is_file() else (ROOT / top).rglob("*"):
            if path.is_file() and path.suffix not in (".pyc", ".sqlite") and path.name != "settings.py":
                found.update(re.findall(r"ORGANISM_[A-Z0-9_]*[A-Z0-9]", path.read_text(errors="replace")))

    assert len(found) > 30
    assert unknown_variables(found) == []


def test_relative_sources_are_read_from_the_settings_file_that_names_them(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "conf"
    folder.mkdir()
    (folder / "organism.toml").write_text('sources = ["posts.jsonl", "https://example.com/feed.xml"]\n')
    monkeypatch.setenv("ORGANISM_CONFIG_FILE", str(folder / "organism.toml"))
    monkeypatch.chdir(tmp_path)

    assert load().sources == (str(folder / "posts.jsonl"), "https://example.com/feed.xml")
    monkeypatch.setenv("ORGANISM_SOURCES", '["posts.jsonl"]')  # a variable's relative path: the working folder
    assert load().sources == (str(tmp_path / "posts.jsonl"),)


def test_a_schedule_setting_is_checked_field_by_field() -> None:
    with pytest.raises(SettingsError) as raised:
        load(schedules={"daily-sync": [{"cron": "0 6 * * *", "zone": "Europe/Berlin", "catch_up": "never"}]})

    assert str(raised.value) == ("setting ORGANISM_SCHEDULES[daily-sync][0][catch_up]: Input should be 'all', "
                                 "'latest' or 'skip' (got 'never')")
