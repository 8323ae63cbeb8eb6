"""Configuration mistakes as a user makes them: each is one line that says what and where, never a traceback.

Bad settings (TOML, JSON, a misspelt name), and services that refuse the credentials, lack the database or vhost,
lack the tables or do not answer, met by `organism doctor` and by every command that uses them.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import insert, select, update

from organism.store import session
from organism.store.models import DeadLetter, Run, utcnow
from tests.integration.test_cli import organism
from tests.support.services import PG_ADMIN

pytestmark = pytest.mark.integration

WRONG_PASSWORD = "not-the-password"
NO_DATABASE = "organism_no_such_database"
UNMIGRATED = "organism_test_unmigrated"


def one_line(done: subprocess.CompletedProcess[str]) -> str:
    """The one line a failed command printed, after checking it failed with exactly that."""
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr and len(done.stderr.splitlines()) == 1, done.stderr
    return done.stderr.strip()


def free_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- settings ---------------------------------------------------------------------------------------------------

BROKEN_TOML = 'profile = "production"\nbroker_url = "amqp://unterminated\n'


@pytest.mark.parametrize("command", ["doctor", "sync"])
@pytest.mark.parametrize(("env", "expected"), [
    ({"ORGANISM_WORKERS": "{bad"},
     "Error: bad configuration: setting ORGANISM_WORKERS: not valid JSON (Expecting property name "
     "enclosed in double quotes: line 1 column 2 (char 1)); give a JSON object"),
    ({"ORGANISM_ORGANS": "[x"},
     "Error: bad configuration: setting ORGANISM_ORGANS: not valid JSON (Expecting value: line 1 column 2 "
     "(char 1)); give a JSON array"),
    ({"ORGANISM_BROKER_ULR": "amqp://guest:guest@127.0.0.1:5672//"},
     "Error: bad configuration: setting ORGANISM_BROKER_ULR: no such setting; did you mean ORGANISM_BROKER_URL?"),
    ({"ORGANISM_BROKER_URL": "sqs://AKIA:secret@"},
     "Error: bad configuration: setting ORGANISM_BROKER_URL: unsupported scheme sqs://; use amqp://, amqps://, "
     "pyamqp://, redis://, rediss://, sqlalchemy+<database URL>, sqla+<database URL>"),
])
def test_a_bad_variable_is_one_line_naming_it(command: str, env: dict[str, str], expected: str) -> None:
    assert one_line(organism(command, env=env)) == expected


@pytest.mark.parametrize("command", ["doctor", "dlq"])
def test_a_malformed_toml_file_is_one_line_naming_the_file_line_and_column(command: str, tmp_path: Path) -> None:
    named = tmp_path / "mine.toml"
    named.write_text(BROKEN_TOML)
    (tmp_path / "config").mkdir()
    (tmp_path / "config/organism.toml").write_text(BROKEN_TOML)
    args = [command, "list"] if command == "dlq" else [command]

    by_variable = organism(*args, env={"ORGANISM_CONFIG_FILE": str(named)})
    by_default = organism(*args, env={}, cwd=tmp_path)

    problem = "not valid TOML: Illegal character '\\n' (at line 2, column 34)"
    assert one_line(by_variable) == f"Error: bad configuration: {named}: {problem}"
    assert one_line(by_default) == f"Error: bad configuration: config/organism.toml: {problem}"


# -- doctor -------------------------------------------------------------------------------------------------------


def _doctor(env: dict[str, str]) -> dict[str, str]:
    done = organism("doctor", env=env)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    return {line.split()[1]: line for line in done.stdout.splitlines()[1:]}


def test_doctor_tells_refused_credentials_and_a_missing_database_from_a_service_that_is_down(
        services: None, tmp_path: Path) -> None:
    refused = _doctor({
        "ORGANISM_DATA_DIR": str(tmp_path),
        "ORGANISM_BROKER_URL": f"amqp://guest:{WRONG_PASSWORD}@127.0.0.1:5672//",
        "ORGANISM_RESULT_BACKEND": f"redis://nobody:{WRONG_PASSWORD}@127.0.0.1:6379/11",
        "ORGANISM_DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:5432/{NO_DATABASE}",
        "ORGANISM_MEMORY_URL": "postgresql+psycopg://no_such_role@127.0.0.1:5432/test"})
    port = free_port()
    down = _doctor({
        "ORGANISM_DATA_DIR": str(tmp_path),
        "ORGANISM_BROKER_URL": f"amqp://guest:guest@127.0.0.1:{port}//",
        "ORGANISM_RESULT_BACKEND": f"redis://127.0.0.1:{port}/11",
        "ORGANISM_DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:{port}/test"})

    assert "credentials refused (" in refused["broker"] and "ACCESS_REFUSED" in refused["broker"]
    assert refused["broker"].endswith("— check the user and password in ORGANISM_BROKER_URL")
    assert refused["results"].endswith("— check the user and password in ORGANISM_RESULT_BACKEND")
    assert refused["store"].endswith(f"database {NO_DATABASE} does not exist — create the database "
                                     f"(createdb {NO_DATABASE}) or point ORGANISM_DATABASE_URL at one")
    assert 'credentials refused (role "no_such_role" does not exist)' in refused["memory"]
    assert "check the user and password in ORGANISM_MEMORY_URL" in refused["memory"]
    assert WRONG_PASSWORD not in "".join(refused.values())
    assert "unreachable" in down["broker"] and "— start RabbitMQ" in down["broker"]
    assert "unreachable" in down["results"] and "— start Redis" in down["results"]
    assert "unreachable" in down["store"] and "— start PostgreSQL" in down["store"]


# -- commands that use the store ------------------------------------------------------------------------------------

STORE_COMMANDS = [("dlq", "list"), ("dlq", "show", "1"), ("dlq", "replay", "1"), ("dlq", "purge", "1"), ("runs",),
                  ("runs", "show", "daily-sync:2026-01-02"), ("runs", "resume", "daily-sync:2026-01-02"),
                  ("sync",), ("ledger",)]


@pytest.fixture(scope="module")
def unmigrated(services: None) -> Iterator[str]:
    """The URL of an empty PostgreSQL database."""
    with psycopg.connect(PG_ADMIN, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {UNMIGRATED} WITH (FORCE)")
        connection.execute(f"CREATE DATABASE {UNMIGRATED}")
    yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{UNMIGRATED}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {UNMIGRATED} WITH (FORCE)")


@pytest.mark.parametrize("command", STORE_COMMANDS, ids=" ".join)
def test_every_store_command_says_in_one_line_what_is_wrong_with_the_store(
        command: tuple[str, ...], unmigrated: str, tmp_path: Path) -> None:
    env = {"ORGANISM_DATA_DIR": str(tmp_path)}  # the broker and the results: SQLite files there
    missing = organism(*command, env=env | {
        "ORGANISM_DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:5432/{NO_DATABASE}"})
    empty = organism(*command, env=env | {"ORGANISM_DATABASE_URL": unmigrated})

    assert one_line(missing) == (
        f"Error: FAIL  store    postgresql+psycopg://postgres@127.0.0.1:5432/{NO_DATABASE}: database {NO_DATABASE} "
        f"does not exist — create the database (createdb {NO_DATABASE}) or point ORGANISM_DATABASE_URL at one")
    assert one_line(empty).startswith(f"Error: FAIL  store    {unmigrated}: ")
    assert one_line(empty).endswith("— run `organism migrate`")


@pytest.mark.parametrize("command", [("dlq", "list"), ("runs", "show", "x"), ("ledger",)], ids=" ".join)
def test_a_store_that_does_not_answer_is_one_line_too(command: tuple[str, ...], services: None,
                                                      tmp_path: Path) -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/test"
    line = one_line(organism(*command, env={"ORGANISM_DATA_DIR": str(tmp_path), "ORGANISM_DATABASE_URL": url}))

    assert line.startswith(f"Error: FAIL  store    {url}: unreachable (")
    assert line.endswith("— start PostgreSQL (scripts/services, or `docker compose up -d postgres`), or set "
                         "ORGANISM_DATABASE_URL")


# -- commands that publish ------------------------------------------------------------------------------------------


@dataclass
class Store:
    """An embedded store with one dead letter and one failed run, ready to be replayed and resumed."""

    env: dict[str, str]
    url: str
    letter_id: int
    run_key: str


@pytest.fixture
def store(tmp_path: Path) -> Store:
    env = {"ORGANISM_DATA_DIR": str(tmp_path)}
    started = organism("sync", "--date", "2026-01-02", env=env)  # migrates the SQLite store, publishes there
    assert started.returncode == 0, started.stderr
    url = f"sqlite:///{tmp_path}/organism.sqlite"
    with session(url) as s:
        s.execute(update(Run).values(status="failed", error="a node failed"))
        letter_id = s.execute(insert(DeadLetter).values(
            task_id="dead-1", task_name="q1p0.pain_scanner", organ="perception",
            args=[["/none.jsonl"], {"start": "2026-01-01T06:00:00+08:00", "end": "2026-01-02T06:00:00+08:00"}],
            kwargs={}, reason="permanent", error_type="PermanentError", error_message="for the test",
            attempts=[], status="dead", created_at=utcnow())).inserted_primary_key[0]
    return Store(env, url, letter_id, "daily-sync:2026-01-02")


@pytest.mark.parametrize(("broker", "expected"), [
    (f"amqp://guest:{WRONG_PASSWORD}@127.0.0.1:5672//", "— check the user and password in ORGANISM_BROKER_URL"),
    ("amqp://guest:guest@127.0.0.1:5672/organism_no_such_vhost",
     "vhost organism_no_such_vhost does not exist — create it (rabbitmqctl add_vhost organism_no_such_vhost) or "
     "point ORGANISM_BROKER_URL at one"),
    ("amqp://guest:guest@127.0.0.1:{port}//", "— start RabbitMQ (scripts/services, or `docker compose up -d "
                                              "rabbitmq`), or set ORGANISM_BROKER_URL"),
    (f"redis://nobody:{WRONG_PASSWORD}@127.0.0.1:6379/12", "— check the user and password in ORGANISM_BROKER_URL"),
], ids=["amqp-password", "amqp-vhost", "amqp-down", "redis-password"])
def test_replay_resume_and_sync_fail_fast_in_one_line_and_change_nothing(
        broker: str, expected: str, store: Store, services: None) -> None:
    env = store.env | {"ORGANISM_BROKER_URL": broker.format(port=free_port())}
    for command in [("dlq", "replay", str(store.letter_id)), ("runs", "resume", store.run_key),
                    ("sync", "--date", "2026-01-03")]:
        began = time.monotonic()
        line = one_line(organism(*command, env=env))

        assert line.startswith("Error: FAIL  broker   ") and line.endswith(expected), (command, line)
        assert WRONG_PASSWORD not in line
        assert time.monotonic() - began < 15, f"{' '.join(command)} took {time.monotonic() - began:.0f}s to fail"
    with session(store.url) as s:
        assert s.scalar(select(DeadLetter.status).where(DeadLetter.id == store.letter_id)) == "dead"
        assert s.execute(select(Run.key, Run.status)).all() == [(store.run_key, "failed")]


def test_sync_with_the_result_backend_down_starts_nothing(store: Store, services: None) -> None:
    url = f"redis://127.0.0.1:{free_port()}/11"

    line = one_line(organism("sync", "--date", "2026-01-03", env=store.env | {"ORGANISM_RESULT_BACKEND": url}))

    assert line.startswith(f"Error: FAIL  results  {url}: unreachable (") and "— start Redis" in line
    with session(store.url) as s:
        assert s.scalars(select(Run.key)).all() == [store.run_key]
