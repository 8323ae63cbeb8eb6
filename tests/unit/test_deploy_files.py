"""The Procfile, docker-compose.yml and the example settings file say what the README says they do."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from organism.settings import ORGANS, Settings

ROOT = Path(__file__).resolve().parents[2]


def test_procfile_has_a_worker_per_organ_and_exactly_one_beat() -> None:
    roles = dict(line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines()
                 if line and not line.startswith("#"))

    assert {role: roles[role] for role in ORGANS} == {o: f"organism worker --organ {o}" for o in ORGANS}
    assert [cmd for cmd in roles.values() if " beat" in cmd] == ["organism beat"]
    assert "flower" in roles


# Every secret the compose file needs, as a deployer would set them; the values show where each one lands.
SECRETS = {"ORGANISM_RABBITMQ_PASSWORD": "rabbit-s3cret", "ORGANISM_POSTGRES_PASSWORD": "pg-s3cret"}
WELL_KNOWN_DEFAULTS = ("guest", "changeme", "change-me", "organism:organism", "admin", "hunter2")


def _compose(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``docker compose config`` (or docker-compose's) with only ``env`` among the ORGANISM_* variables."""
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        command = ["docker", "compose"]
    elif shutil.which("docker-compose"):
        command = ["docker-compose"]
    else:
        pytest.fail("neither `docker compose` nor `docker-compose` is installed (apt-get install docker-compose)")
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ORGANISM_")}
    return subprocess.run([*command, "config"], cwd=ROOT, capture_output=True, text=True, env=clean | env)


def _compose_config(env: dict[str, str] = SECRETS) -> dict:  # type: ignore[type-arg]
    done = _compose(env)
    assert done.returncode == 0, done.stderr
    return yaml.safe_load(done.stdout)  # type: ignore[no-any-return]


def _published(services: dict) -> dict[str, list[tuple[str, str]]]:  # type: ignore[type-arg]
    """Each service's published ports as (host address, port), from either form `config` prints."""
    found: dict[str, list[tuple[str, str]]] = {}
    for name, service in services.items():
        for port in service.get("ports", []):
            if isinstance(port, dict):
                found.setdefault(name, []).append((port.get("host_ip", ""), str(port["published"])))
            else:  # "127.0.0.1:8800:8800/tcp", "8800:8800"
                parts = port.split("/")[0].rsplit(":", 2)
                found.setdefault(name, []).append((parts[0] if len(parts) == 3 else "", parts[-2]))
    return found


def test_compose_file_is_accepted_and_workers_wait_for_healthy_services_and_report_their_health() -> None:
    services = _compose_config()["services"]

    assert set(services) == {"rabbitmq", "redis", "postgres", "migrate", *ORGANS, "beat", "flower", "console",
                             "metrics"}
    for infra in ("rabbitmq", "redis", "postgres"):
        assert "healthcheck" in services[infra], infra
    for organ in ORGANS:
        assert services[organ]["command"] == ["organism", "worker", "--organ", organ]
        depends = services[organ]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"
        assert {depends[s]["condition"] for s in ("rabbitmq", "redis", "postgres")} == {"service_healthy"}
        assert services[organ]["environment"]["ORGANISM_PROFILE"] == "production"
        probe = services[organ]["healthcheck"]["test"]
        command = probe[1].replace("$$", "$")  # `config` prints $ escaped, as in the file, or not, by version
        assert probe[0] == "CMD-SHELL" and f"organism health worker --node {organ}@$HOSTNAME" in command, probe
    for service in ("flower", "console", "metrics"):
        assert "healthcheck" in services[service], service


def test_compose_publishes_operator_ports_on_loopback_unless_told_otherwise() -> None:
    published = _published(_compose_config()["services"])
    widened = _published(_compose_config(SECRETS | {"ORGANISM_BIND": "0.0.0.0"})["services"])

    assert published == {"rabbitmq": [("127.0.0.1", "5672"), ("127.0.0.1", "15672")],
                         "flower": [("127.0.0.1", "5555")], "console": [("127.0.0.1", "8800")],
                         "metrics": [("127.0.0.1", "9808")]}
    assert {host for ports in widened.values() for host, _ in ports} == {"0.0.0.0"}


def test_compose_has_no_default_password_and_names_each_missing_one() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    assert [word for word in WELL_KNOWN_DEFAULTS if word in text.lower()] == []
    assert re.findall(r"\$\{\w*(?:PASS|SECRET|TOKEN)\w*:-[^}]+\}", text) == [], "a secret with a default value"

    for service in _compose_config()["services"].values():
        for name, value in (service.get("environment") or {}).items():
            value = str(value or "")
            if re.search(r"PASS|SECRET|TOKEN", name):
                assert value in ("", *SECRETS.values()), (name, value)
            if "://" in value and urlsplit(value).password is not None:
                assert urlsplit(value).password in SECRETS.values(), (name, value)

    for missing in SECRETS:
        done = _compose({k: v for k, v in SECRETS.items() if k != missing})
        assert done.returncode != 0 and f"set {missing}" in done.stderr, (missing, done.stderr)


def test_example_settings_file_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORGANISM_CONFIG_FILE", str(ROOT / "config/organism.example.toml"))
    settings = Settings()
    assert settings.timezone == "Asia/Shanghai" and settings.worker("perception").concurrency == 2
    assert settings.sources == ()  # the Daily Sync's shipped samples
    assert [s.cron for s in settings.schedules["daily-sync"]] == ["0 6 * * *"]
