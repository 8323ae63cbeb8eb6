"""The Procfile, docker-compose.yml and the example settings file say what the README says they do, and the first
two are what ``organism deploy procfile`` and ``organism deploy compose`` render from the default settings."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from click.testing import CliRunner

from organism.cli.main import main
from organism.deploy import compose, procfile
from organism.settings import ORGANS, Settings, load

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


def _compose(env: dict[str, str], folder: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """``docker compose config`` (or docker-compose's) on ``folder``'s docker-compose.yml, with only ``env`` among
    the ORGANISM_* variables."""
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        command = ["docker", "compose"]
    elif shutil.which("docker-compose"):
        command = ["docker-compose"]
    else:
        pytest.fail("neither `docker compose` nor `docker-compose` is installed (apt-get install docker-compose)")
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ORGANISM_")}
    return subprocess.run([*command, "config"], cwd=folder, capture_output=True, text=True, env=clean | env)


def _compose_config(env: dict[str, str] = SECRETS, folder: Path = ROOT) -> dict:  # type: ignore[type-arg]
    done = _compose(env, folder)
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


@pytest.fixture
def default_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Settings:
    """The settings with nothing set: no ORGANISM_* variable, no config/organism.toml."""
    for name in [name for name in os.environ if name.upper().startswith("ORGANISM_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return load()


@pytest.mark.parametrize(("name", "render", "command"), [
    ("Procfile", procfile.render, "organism deploy procfile --out Procfile"),
    ("docker-compose.yml", compose.render, "organism deploy compose --out docker-compose.yml"),
])
def test_the_committed_deploy_files_are_what_the_default_settings_render(
        default_settings: Settings, name: str, render: Callable[[Settings], str], command: str) -> None:
    assert (ROOT / name).read_text() == render(default_settings), (
        f"{name} is not what the settings render: run `{command}` in the repository's root with no ORGANISM_* "
        "variable set, and commit the result")


def _bytes(value: object) -> int:
    """A memory size as `config` prints it (bytes, or compose's own units, by version) in bytes."""
    text = str(value).lower()
    units = {"b": 1, "k": 2**10, "m": 2**20, "g": 2**30}
    return int(text[:-1]) * units[text[-1]] if text[-1] in units else int(text)


def _seconds(value: str) -> float:
    """A duration as `config` prints it ("390s", or "6m30s" by version) in seconds."""
    return sum(float(amount) * {"h": 3600, "m": 60, "s": 1}[unit] for amount, unit in re.findall(r"([\d.]+)([hms])",
                                                                                                  value))


def test_each_worker_service_is_sized_by_its_organs_limits(default_settings: Settings) -> None:
    services = _compose_config()["services"]

    for organ in ORGANS:
        worker = default_settings.worker(organ)
        mebibytes = {"Mi": 1, "Gi": 1024}[worker.memory_limit[-2:]]
        assert _bytes(services[organ]["mem_limit"]) == int(worker.memory_limit[:-2]) * mebibytes * 2**20, organ
        assert _bytes(services[organ]["mem_reservation"]) == _bytes(compose.memory(worker.memory_request)), organ
        assert _seconds(services[organ]["stop_grace_period"]) == worker.time_limit_s + 30, organ
    assert "mem_limit" not in services["beat"] and "cpus" not in services["console"]


def test_a_new_organ_and_its_limits_need_no_hand_edit(default_settings: Settings, tmp_path: Path) -> None:
    settings = load(organs=(*ORGANS, "digestion"),
                    workers={"digestion": {"bound": "io", "concurrency": 16, "cpu_limit": "1500m",
                                           "memory_limit": "3Gi"}})
    (tmp_path / "docker-compose.yml").write_text(compose.render(settings))
    rendered = procfile.render(settings)

    services = _compose_config(folder=tmp_path)["services"]
    roles = dict(line.split(": ", 1) for line in rendered.splitlines() if line and not line.startswith("#"))

    digestion = services["digestion"]
    assert digestion["command"] == ["organism", "worker", "--organ", "digestion"]
    assert _bytes(digestion["mem_limit"]) == 3 * 2**30 and float(digestion["cpus"]) == 1.5
    assert digestion["healthcheck"]["test"][0] == "CMD-SHELL"
    # Every container gets the worker settings the file was rendered from, so the worker applies what it is sized for.
    given = yaml.safe_load(f"v: {digestion['environment']['ORGANISM_WORKERS']}")["v"]
    assert load(organs=(*ORGANS, "digestion"), workers=given).worker("digestion").concurrency == 16
    assert roles["digestion"] == "organism worker --organ digestion"
    assert ("# digestion: threads, 16 threads, prefetch 2; time limits 300 s soft, 360 s hard (a watchdog's); no "
            "child limits (only a prefork pool has children)") in rendered


def test_deploy_check_exits_1_with_one_line_when_a_file_is_not_what_the_settings_render(
        default_settings: Settings, tmp_path: Path) -> None:
    (tmp_path / "Procfile").write_text((ROOT / "Procfile").read_text())
    stale = (ROOT / "docker-compose.yml").read_text().replace("mem_limit: 2304m", "mem_limit: 2g")
    (tmp_path / "docker-compose.yml").write_text(stale)
    runner = CliRunner()

    fresh = runner.invoke(main, ["deploy", "procfile", "--check"])
    changed = runner.invoke(main, ["deploy", "compose", "--check"])
    missing = runner.invoke(main, ["deploy", "compose", "--check", "--out", "elsewhere.yml"])

    assert fresh.exit_code == 0, fresh.output
    assert changed.exit_code == 1 and changed.output.strip().splitlines()[-1] == (
        "Error: docker-compose.yml is not what `organism deploy compose` renders from these settings: 1 line differs, "
        "the first at line 102, 'mem_limit: 2g' where the rendering has 'mem_limit: 2304m'; "
        "`organism deploy compose --out docker-compose.yml` writes it")
    assert missing.exit_code == 1 and missing.output.strip().splitlines()[-1] == (
        "Error: elsewhere.yml: no such file; `organism deploy compose --out elsewhere.yml` writes it")
