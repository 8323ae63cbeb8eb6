"""The organism command as a user meets it: one-line errors for bad settings, bad parameters and unreachable
services; the workflows it lists; a Daily Sync run from any directory on one machine."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from organism.workflows.queries import find_run
from tasks.daily_sync import DAILY_SYNC
from tasks.samples import SAMPLE_SOURCES
from tests.conftest import make_settings
from tests.support.services import ROOT

pytestmark = pytest.mark.integration
ORGANISM = str(Path(sys.executable).with_name("organism"))
DEAD_AMQP = "amqp://guest:secret@127.0.0.1:1//"


def organism(*args: str, env: dict[str, str], timeout_s: float = 60,
             cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ORGANISM_")} | {"COLUMNS": "200"}
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


def errors(done: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in done.stderr.splitlines() if line.startswith("Error:")]


@pytest.mark.parametrize(("param", "named"), [
    ("window_hours=0", "parameter window_hours: Input should be greater than or equal to 1 (got '0')"),
    ("sources=/nope.jsonl", "parameter sources: /nope.jsonl: file not found"),
    ("date=2026-13-01", "parameter date: Input should be a valid date or datetime, month value is outside"),
])
def test_a_wrong_parameter_is_refused_in_one_line_before_anything_is_written(tmp_path: Path, param: str,
                                                                            named: str) -> None:
    data = tmp_path / "var"

    done = organism("run", "daily-sync", "--param", param, env={"ORGANISM_DATA_DIR": str(data)})

    assert done.returncode == 1
    [line] = done.stderr.splitlines()
    assert line.startswith(f"Error: workflow daily-sync: {named}")
    assert "Traceback" not in done.stderr
    assert not data.exists(), "a refused run created the store or the broker's queue"


def test_an_unknown_workflow_names_the_known_ones(tmp_path: Path) -> None:
    done = organism("run", "nope", env={"ORGANISM_DATA_DIR": str(tmp_path / "var")})

    assert done.returncode == 1
    [line] = done.stderr.splitlines()
    assert line.startswith("Error: unknown workflow 'nope'; known workflows: ")
    assert "daily-sync" in line.partition("known workflows: ")[2].split(", ")
    assert not (tmp_path / "var").exists()


def _next_six_in_shanghai(now: datetime) -> str:
    local = now.astimezone(ZoneInfo("Asia/Shanghai"))
    day = local.date() if local.time() < time(6) else local.date() + timedelta(days=1)
    return f"{day} 06:00 CST"


def test_workflows_lists_the_daily_sync_with_its_parameters_and_next_firing(tmp_path: Path) -> None:
    before = _next_six_in_shanghai(datetime.now(UTC))
    done = organism("workflows", env={"ORGANISM_DATA_DIR": str(tmp_path / "var")})
    after = _next_six_in_shanghai(datetime.now(UTC))

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    section = lines[next(i for i, line in enumerate(lines) if " daily-sync " in line):]
    assert section[1] == DAILY_SYNC.description
    for param in DAILY_SYNC.parameters:
        assert any(line.split()[:1] == [param.name] and f" {param.default} " in line for line in section), param
    window = next(line for line in section if line.split()[:1] == ["window_hours"])
    assert window.split()[1:3] == ["int", "24"]
    schedule = next(line for line in section if line.startswith("schedule "))
    assert any(schedule.startswith(f"schedule 0 6 * * * in Asia/Shanghai: next {when}") for when in {before, after})


def test_a_run_started_outside_the_repository_succeeds_and_sync_follows_it(tmp_path: Path) -> None:
    """The sample sources ship with the package: a run started from any directory reads them."""
    elsewhere, data = tmp_path / "elsewhere", tmp_path / "var"
    elsewhere.mkdir()
    env = {"ORGANISM_DATA_DIR": str(data)}

    done = organism("run", "daily-sync", "--param", "date=2026-11-20", "--wait", "--local-workers", env=env,
                    cwd=elsewhere, timeout_s=300)

    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "started run daily-sync:2026-11-20" in done.stdout
    assert "Daily Sync 2026-11-20: posts from 2026-11-19T06:00:00+08:00 to 2026-11-20T06:00:00+08:00" in done.stdout
    run = find_run(make_settings(env).database, "daily-sync:2026-11-20")
    assert run is not None and run.status == "succeeded"
    assert run.params["sources"] == list(SAMPLE_SOURCES)

    again = organism("sync", "--date", "2026-11-20", "--wait", "--local-workers", env=env, cwd=elsewhere,
                     timeout_s=300)

    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert "run daily-sync:2026-11-20 already exists (succeeded); following it" in again.stdout
    assert "Daily Sync 2026-11-20: posts from" in again.stdout

    shown = organism("runs", "show", "daily-sync:2026-11-20", env=env, cwd=elsewhere)

    assert shown.returncode == 0, shown.stderr
    assert "date = 2026-11-20" in shown.stdout.splitlines() and "window_hours = 24" in shown.stdout.splitlines()


@pytest.mark.parametrize(("args", "env", "line"), [
    (("run", "daily-sync", "--param", "window_hours"), {}, "Error: --param 'window_hours': not NAME=VALUE"),
    (("workflows",), {"ORGANISM_SCHEDULES": '{"daily-sync": [{"cron": "0 6 * * *", "zone": "Mars/Olympus"}]}'},
     "Error: bad configuration: setting ORGANISM_SCHEDULES[daily-sync][0]: schedule '0 6 * * *': unknown time zone "
     "'Mars/Olympus'; use an IANA name such as Europe/Berlin"),
    (("run", "daily-sync"), {"ORGANISM_SCHEDULES": '{"daily-snyc": []}'},
     "Error: bad configuration: setting ORGANISM_SCHEDULES names unknown workflow 'daily-snyc'; known workflows: "),
], ids=["param-without-value", "schedule-zone", "schedule-workflow"])
def test_a_malformed_param_or_schedule_setting_is_one_line(tmp_path: Path, args: tuple[str, ...],
                                                           env: dict[str, str], line: str) -> None:
    done = organism(*args, env={"ORGANISM_DATA_DIR": str(tmp_path / "var"), **env})

    assert done.returncode == 1
    [said] = done.stderr.splitlines()
    assert said.startswith(line), said
    assert not (tmp_path / "var").exists()
