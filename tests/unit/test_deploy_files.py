"""The Procfile, docker-compose.yml and the example settings file say what the README says they do."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

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


def _compose_config() -> dict:  # type: ignore[type-arg]
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        command = ["docker", "compose"]
    elif shutil.which("docker-compose"):
        command = ["docker-compose"]
    else:
        pytest.fail("neither `docker compose` nor `docker-compose` is installed (apt-get install docker-compose)")
    done = subprocess.run([*command, "config"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return yaml.safe_load(done.stdout)  # type: ignore[no-any-return]


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


def test_example_settings_file_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORGANISM_CONFIG_FILE", str(ROOT / "config/organism.example.toml"))
    settings = Settings()
    assert settings.timezone == "Asia/Shanghai" and settings.worker_concurrency == {"perception": 2}
    assert settings.sources[0] == "config/sources/sample-posts.jsonl"
