"""The real services the tests use, each isolated from a developer's own data, and conditions with deadlines."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import psycopg
import pytest

ROOT = Path(__file__).resolve().parents[2]
RABBIT_VHOST = "organism_test"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
PG_DATABASE = "organism_test"
TEST_MODULES = '["tasks.perception", "tasks.relationship", "tasks.judgment", "tasks.evolution", "tasks.daily_sync", ' \
               '"tasks.weekly_review", ' \
               '"beat.schedule", "tests.support.noop", "tests.support.faulty", "tests.faults.skills", ' \
               '"tests.support.credentials", "tests.support.queued", "tests.support.mapped"]'

T = TypeVar("T")


def wait_for(condition: Callable[[], T], timeout_s: float, what: str, interval_s: float = 0.05) -> T:
    """Poll ``condition`` until it returns something truthy; fail the test naming ``what`` at the deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s:.0f}s waiting for {what}")
        time.sleep(interval_s)


def rabbitmqctl(*args: str, timeout_s: float = 60, check: bool = True,
                why: str = "the tests need it") -> subprocess.CompletedProcess[str]:
    """Run ``rabbitmqctl -q args``; fail the test, saying ``why`` it was needed, if it is not installed."""
    ctl = shutil.which("rabbitmqctl")
    if ctl is None:
        pytest.fail(f"rabbitmqctl not found: {why} (rabbitmqctl {' '.join(args)})")
    return subprocess.run([ctl, "-q", *args], capture_output=True, text=True, timeout=timeout_s, check=check)


def ensure_services() -> None:
    """Start any service that is down (scripts/services); fail with its message if one stays down."""
    done = subprocess.run([str(ROOT / "scripts/services")], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.fail(f"a service the tests need is down and would not start:\n{done.stdout}{done.stderr}")


@contextmanager
def own_rabbit_vhost(name: str, who: str) -> Iterator[str]:
    """A RabbitMQ vhost ``name`` for guest while the block runs, deleted after it (``who`` needs it: for the
    message when rabbitmqctl is missing)."""
    why = f"{who} need a RabbitMQ vhost of their own"
    rabbitmqctl("add_vhost", name, why=why)
    rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*", why=why)
    try:
        yield name
    finally:
        rabbitmqctl("delete_vhost", name, check=False, why=why)


def ensure_rabbit_vhost(name: str = RABBIT_VHOST) -> None:
    """The vhost ``name`` exists and guest may use it."""
    why = f"create the vhost {name} for guest by hand"
    if name not in rabbitmqctl("list_vhosts", why=why).stdout.split():
        rabbitmqctl("add_vhost", name, why=why)
    rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*", why=why)


def fresh_pg_database(name: str = PG_DATABASE) -> None:
    """(Re)create the database ``name``, empty: every test session starts from the migrations, not leftovers."""
    with psycopg.connect(PG_ADMIN, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        connection.execute(f"CREATE DATABASE {name}")


def drop_pg_database(name: str) -> None:
    """Drop the database ``name`` of a suite or benchmark that made its own, its connections closed first."""
    with psycopg.connect(PG_ADMIN, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def profile_env(profile: str, data_dir: Path) -> dict[str, str]:
    """ORGANISM_* variables for one profile, pointed at the test vhost, Redis databases and database."""
    env = {"ORGANISM_PROFILE": profile, "ORGANISM_DATA_DIR": str(data_dir), "ORGANISM_TASK_MODULES": TEST_MODULES}
    if profile == "production":
        env |= {"ORGANISM_BROKER_URL": f"amqp://guest:guest@127.0.0.1:5672/{RABBIT_VHOST}",
                "ORGANISM_RESULT_BACKEND": "redis://127.0.0.1:6379/11",
                "ORGANISM_DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:5432/{PG_DATABASE}"}
    elif profile == "redis":
        env |= {"ORGANISM_BROKER_URL": "redis://127.0.0.1:6379/12",
                "ORGANISM_RESULT_BACKEND": "redis://127.0.0.1:6379/13"}
    return env


def finished_run(database_url: str, run_id: str, timeout_s: float = 60):  # type: ignore[no-untyped-def]
    """The run once it has succeeded, failed or been cancelled."""
    from organism.workflows.queries import find_run

    def done():  # type: ignore[no-untyped-def]
        run = find_run(database_url, run_id)
        return run if run is not None and run.status in ("succeeded", "failed", "cancelled") else None

    return wait_for(done, timeout_s, f"run {run_id} to finish")
