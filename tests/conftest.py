"""Fixtures shared by every tier: real services, an app per profile, worker processes per profile."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import delete

from organism import store
from organism.app import Organism, create_app
from organism.local import LocalWorkers
from organism.settings import Settings
from organism.store.models import DeadLetter, Delivery, Report, Run, ScheduleMark
from organism.workflows.start import start
from tests.support.services import (
    ROOT,
    ensure_rabbit_vhost,
    ensure_services,
    finished_run,
    fresh_pg_database,
    profile_env,
)

PROFILES = ("embedded", "production", "redis")


@dataclass
class Cluster:
    """One profile's app (in this process) and its worker processes (one per organ)."""

    profile: str
    env: dict[str, str]
    app: Organism
    workers: LocalWorkers

    @property
    def settings(self) -> Settings:
        return self.app.settings

    def clean(self) -> None:
        """Make this the app that ``skill.delay()`` sends through; empty its queues and store."""
        self.app.set_current()
        self.app.set_default()  # for threads, which do not see another thread's current app
        self.app.control.purge()
        with store.session(self.settings.database) as s:
            for table in (Report, Run, DeadLetter, Delivery, ScheduleMark):
                s.execute(delete(table))


@pytest.fixture(scope="session")
def services() -> None:
    ensure_services()
    ensure_rabbit_vhost()
    fresh_pg_database()


def make_settings(env: dict[str, str]) -> Settings:
    """Settings as a worker with ``env`` would load them."""
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        return Settings()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def daily_sync_on_own_workers(tmp_path: Path, extra_env: dict[str, str],
                              day: date = date(2026, 11, 23)) -> tuple[Run, Settings, dict[str, str]]:
    """One Daily Sync on an embedded cluster of its own with ``extra_env`` (for settings the shared clusters
    cannot take); the finished run, its settings, and the workers' environment."""
    env = profile_env("embedded", tmp_path) | extra_env | {"PYTHONPATH": str(ROOT)}
    settings = make_settings(env)
    store.migrate(settings.database)
    app = create_app(settings)
    app.set_default()
    with LocalWorkers(settings, env=env, log_dir=tmp_path / "logs"):
        started = start(app, "daily-sync", {"date": day})
        return finished_run(settings.database, started.run_id, 120), settings, env


class Clusters:
    """One cluster per profile, started on first use (so a run of one test starts only what it needs).

    ``env_for(profile, data_dir)`` gives the workers' environment; suites with their own broker namespace
    and store (the fault tests) pass theirs, and a ``prefix`` for their data folders.
    """

    def __init__(self, tmp_path_factory: pytest.TempPathFactory,
                 env_for: Callable[[str, Path], dict[str, str]] = profile_env, prefix: str = "") -> None:
        self._tmp = tmp_path_factory
        self._env_for = env_for
        self._prefix = prefix
        self._started: dict[str, Cluster] = {}

    def __getitem__(self, profile: str) -> Cluster:
        if profile not in self._started:
            data_dir = self._tmp.mktemp(f"{self._prefix}{profile}")
            env = self._env_for(profile, data_dir)
            settings = make_settings(env)
            store.migrate(settings.database)
            app = create_app(settings)
            workers = LocalWorkers(settings, env=env | {"PYTHONPATH": str(ROOT)}, log_dir=data_dir / "logs")
            cluster = Cluster(profile, env, app, workers)
            cluster.clean()
            workers.__enter__()
            self._started[profile] = cluster
        return self._started[profile]

    def stop(self) -> None:
        for cluster in self._started.values():
            cluster.workers.stop()


@pytest.fixture(scope="session")
def clusters(services: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Clusters]:
    started = Clusters(tmp_path_factory)
    yield started
    started.stop()


@pytest.fixture(params=PROFILES)
def cluster(request: pytest.FixtureRequest, clusters: Clusters) -> Cluster:
    """Each profile in turn, with its queues and store emptied."""
    chosen = clusters[request.param]
    chosen.clean()
    return chosen


@pytest.fixture
def production(clusters: Clusters) -> Cluster:
    chosen = clusters["production"]
    chosen.clean()
    return chosen


@pytest.fixture
def environ(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """The environment with no ORGANISM_* variable but those a test sets."""
    for name in [name for name in os.environ if name.upper().startswith("ORGANISM_")]:
        monkeypatch.delenv(name)
    return monkeypatch


@pytest.fixture
def artifacts() -> Path:
    path = ROOT / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path
