"""The organism command as a user meets it: one-line errors for bad settings and unreachable services."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.services import ROOT

pytestmark = pytest.mark.integration
ORGANISM = str(Path(sys.executable).with_name("organism"))
DEAD_AMQP = "amqp://guest:secret@127.0.0.1:1//"


def organism(*args: str, env: dict[str, str], timeout_s: float = 60,
             cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ORGANISM_")}
    return subprocess.run([ORGANISM, *args], env=clean | env, cwd=cwd, capture_output=True, text=True,
                          timeout=timeout_s)


def test_doctor_names_the_unreachable_broker_and_the_fix(tmp_path: Path) -> None:
    done = organism("doctor", env={"ORGANISM_BROKER_URL": DEAD_AMQP, "ORGANISM_DATA_DIR": str(tmp_path)})

    assert done.returncode == 1
    broker = [line for line in done.stdout.splitlines() if "broker" in line]
    assert len(broker) == 1 and broker[0].startswith("FAIL  broker   amqp://guest:***@127.0.0.1:1//: unreachable")
    assert "start RabbitMQ" in broker[0] and "ORGANISM_BROKER_URL" in broker[0]
    assert "secret" not in done.stdout + done.stderr
    assert "Traceback" not in done.stderr


def test_doctor_passes_on_the_embedded_profile_once_migrated(tmp_path: Path) -> None:
    env = {"ORGANISM_DATA_DIR": str(tmp_path)}
    assert organism("migrate", env=env).returncode == 0

    done = organism("doctor", env=env)

    assert done.returncode == 0, done.stdout
    assert [line.split()[:2] for line in done.stdout.splitlines()[1:]] == [
        ["ok", "broker"], ["ok", "results"], ["ok", "store"]]


def test_sync_with_an_unreachable_broker_fails_in_one_line(tmp_path: Path) -> None:
    done = organism("sync", env={"ORGANISM_BROKER_URL": DEAD_AMQP, "ORGANISM_DATA_DIR": str(tmp_path)})

    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("Error: FAIL  broker")
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(("name", "value", "expected"), [
    ("ORGANISM_SCHEDULE_TICK_S", "0", "setting ORGANISM_SCHEDULE_TICK_S: Input should be greater than 0"),
    ("ORGANISM_TIMEZONE", "Mars/Olympus", "setting ORGANISM_TIMEZONE: Value error, unknown time zone"),
    ("ORGANISM_PROFILE", "cloud", "setting ORGANISM_PROFILE: Input should be 'embedded', 'production' or 'redis'"),
])
@pytest.mark.parametrize("command", ["doctor", "sync"])
def test_bad_settings_name_the_setting(command: str, name: str, value: str, expected: str) -> None:
    done = organism(command, env={name: value})

    assert done.returncode == 1
    assert expected in done.stderr
    assert "Traceback" not in done.stderr
