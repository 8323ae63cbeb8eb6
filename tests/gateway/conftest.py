"""Gateway fixtures: the fake model server as a subprocess, both stores, worker processes, Celery workers.

Every cluster-wide property is shown across real OS processes: forked processes for the gateway alone, and
Celery worker processes for skills. A test session has its own PostgreSQL database and RabbitMQ vhost (named
after its process), so two sessions of these tests can run at once without sharing permits or messages.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests
from celery import Celery
from celery.result import ResultSet
from sqlalchemy import delete

from devtools.fake_model import spawn
from organism import store
from organism.app import create_app
from organism.gateway.client import Gateway
from organism.gateway.models import Endpoint, LedgerEntry, Permit, RouteTurn, Waiter
from organism.gateway.routes import Target
from organism.gateway.settings import DEFAULT_ROUTE
from organism.local import LocalWorkers
from organism.settings import Settings, load
from organism.store.db import forget_engines
from tests.conftest import make_settings
from tests.support.services import PG_ADMIN, ROOT, ensure_services, fresh_pg_database, own_rabbit_vhost, wait_for

API_KEY = "sk-test-never-in-any-log-4242"
SESSION = f"organism_gateway_{os.getpid()}"  # this session's PostgreSQL database and RabbitMQ vhost
PG_URL = f"postgresql+psycopg://postgres@127.0.0.1:5432/{SESSION}"
BROKER_URL = f"amqp://guest:guest@127.0.0.1:5672/{SESSION}"
RESULTS_URL = "redis://127.0.0.1:6379/9"  # results are keyed by unique task ids: sessions can share it
STORES = ("sqlite", "postgresql")
FLEET = 3  # fake servers for routes of several endpoints
WORKER_MODULES = ["tests.gateway.worker_skills"]
WORKER_SLOTS = 6
# The gateway as the workers run it: 3 permits, short leases and waits so the tests stay quick.
WORKER_GATEWAY = {"max_concurrency": 3, "lease_ttl_s": 2.0,
                  "breaker_failures": 50, "connect_timeout_s": 2.0, "read_timeout_s": 5.0}


@dataclass
class FakeServer:
    """The fake model server running in its own process, and its control API."""

    url: str
    process: subprocess.Popen[str]

    @property
    def root(self) -> str:
        return self.url.removesuffix("/v1")

    def control(self, **changes: Any) -> None:
        requests.post(f"{self.root}/control", json=changes, timeout=5).raise_for_status()

    def reset(self) -> None:
        requests.post(f"{self.root}/reset", timeout=5).raise_for_status()

    def stats(self) -> dict[str, Any]:
        answer: dict[str, Any] = requests.get(f"{self.root}/stats", timeout=5).json()
        return answer


@pytest.fixture(scope="session")
def fake_server() -> Iterator[FakeServer]:
    process, url = spawn("--api-key", API_KEY)
    yield FakeServer(url, process)
    process.terminate()
    process.wait(10)


@pytest.fixture
def server(fake_server: FakeServer) -> FakeServer:
    """The fake server with its counters zeroed and its start-up behaviour."""
    fake_server.reset()
    return fake_server


@pytest.fixture(scope="session")
def fleet_servers() -> Iterator[list[FakeServer]]:
    processes = [spawn("--api-key", API_KEY) for _ in range(FLEET)]
    yield [FakeServer(url, process) for process, url in processes]
    for process, _ in processes:
        process.terminate()
        process.wait(10)


@pytest.fixture
def fleet(fleet_servers: list[FakeServer]) -> list[FakeServer]:
    """Three more fake servers, for routes of several endpoints: counters zeroed, start-up behaviour."""
    for one in fleet_servers:
        one.reset()
    return fleet_servers


def endpoint(name: str, server: FakeServer, **settings: Any) -> dict[str, Any]:
    """A route's endpoint on ``server`` as the settings declare it (the fake model, the tests' key)."""
    return {"name": name, "base_url": server.url, "model": "fake-model", "api_key": API_KEY, **settings}


def routed_settings(store_url: str, routes: dict[str, Any], **gateway: Any) -> Settings:
    """Settings of a gateway on ``store_url`` with ``routes`` (alias: endpoints, or a route's settings)."""
    declared = {alias: route if isinstance(route, dict) else {"endpoints": route} for alias, route in routes.items()}
    return load(database_url=store_url, gateway={**WORKER_GATEWAY, "routes": declared, **gateway})


@pytest.fixture(scope="session")
def store_urls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Both stores, migrated from scratch: an SQLite file, and this session's PostgreSQL database."""
    ensure_services()
    fresh_pg_database(SESSION)
    urls = {"sqlite": f"sqlite:///{tmp_path_factory.mktemp('gateway-store') / 'organism.sqlite'}",
            "postgresql": PG_URL}
    for url in urls.values():
        store.migrate(url)
    yield urls
    forget_engines()
    with psycopg.connect(PG_ADMIN, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {SESSION} WITH (FORCE)")


@pytest.fixture(scope="session")
def broker_url() -> Iterator[str]:
    """This session's RabbitMQ vhost, removed at the end."""
    with own_rabbit_vhost(SESSION, "the gateway's Celery tests"):
        yield BROKER_URL


def clean(url: str) -> None:
    """Forget every endpoint, permit, waiter, route turn and ledger row."""
    with store.session(url) as s:
        for table in (Endpoint, Permit, Waiter, RouteTurn, LedgerEntry):
            s.execute(delete(table))


@pytest.fixture(params=STORES)
def store_url(request: pytest.FixtureRequest, store_urls: dict[str, str]) -> str:
    """Each store in turn, with the gateway's tables empty."""
    url = store_urls[request.param]
    clean(url)
    return url


def gateway_settings(store_url: str, server_url: str, **gateway: Any) -> Settings:
    """Settings of a gateway on ``store_url`` that talks to the fake server."""
    return load(database_url=store_url, gateway={"base_url": server_url, "model": "fake-model",
                                                 "api_key": API_KEY, **WORKER_GATEWAY, **gateway})


def only_endpoint(gateway: Gateway) -> Target:
    """The one endpoint of a gateway configured by base URL and model (the route ``default``)."""
    (target,) = gateway.routes.route(DEFAULT_ROUTE).targets
    return target


def in_processes(count: int, target: Callable[..., Any], *args: Any, timeout_s: float = 60) -> list[Any]:
    """Run ``target(index, *args)`` in ``count`` forked processes at once; their return values, in order."""
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    processes = [context.Process(target=_child, args=(results, i, target, args)) for i in range(count)]
    for process in processes:
        process.start()
    collected = dict(results.get(timeout=timeout_s) for _ in processes)
    for process in processes:
        process.join(timeout_s)
    failures = [value for value in collected.values() if isinstance(value, str) and value.startswith("FAILED")]
    assert not failures, failures[0]
    return [collected[i] for i in range(count)]


def _child(results: Any, index: int, target: Callable[..., Any], args: tuple[Any, ...]) -> None:
    forget_engines()  # never share the parent's database connections
    try:
        results.put((index, target(index, *args)))
    except BaseException as error:
        results.put((index, f"FAILED in process {index}: {type(error).__name__}: {error}"))


@dataclass
class Workers:
    """Celery worker processes running :mod:`tests.gateway.worker_skills` against one store."""

    app: Celery
    settings: Settings
    workers: LocalWorkers

    def send(self, name: str, *args: Any, task_id: str | None = None) -> Any:
        return self.app.send_task(name, args=args, task_id=task_id, queue="perception")


def start_workers(store_name: str, store_url: str, server: FakeServer, data_dir: Path) -> Workers:
    """Celery workers for ``store_name`` (only one set runs at a time: they share the vhost's queues)."""
    env = {"ORGANISM_BROKER_URL": BROKER_URL, "ORGANISM_RESULT_BACKEND": RESULTS_URL,
           "ORGANISM_DATABASE_URL": store_url, "ORGANISM_DATA_DIR": str(data_dir),
           "ORGANISM_TASK_MODULES": json.dumps(WORKER_MODULES),
           "ORGANISM_WORKERS__PERCEPTION__CONCURRENCY": str(WORKER_SLOTS),
           "ORGANISM_GATEWAY__BASE_URL": server.url, "ORGANISM_GATEWAY__MODEL": "fake-model",
           "ORGANISM_GATEWAY__API_KEY": API_KEY, "PYTHONPATH": str(ROOT),
           **{f"ORGANISM_GATEWAY__{k.upper()}": str(v) for k, v in WORKER_GATEWAY.items()}}
    settings = make_settings(env)
    workers = LocalWorkers(settings, env=env, log_dir=data_dir / "logs", organs=["perception"])
    workers.__enter__()
    try:
        started = Workers(create_app(settings), settings, workers)
        ready = started.send("test.gateway.ask", "ready?")
        wait_for(lambda: ready.ready() or workers.dead(), 60, f"the {store_name} workers to answer")
        assert not workers.dead(), workers.log_tail("perception")
        # Warm every pool child up (connections, compiled statements, the gateway), waiting included, so the
        # first test does not measure start-up.
        server.control(latency_ms=50)
        warm_up = [started.send("test.gateway.ask", f"warm-up {i}") for i in range(4 * WORKER_SLOTS)]
        ResultSet(warm_up, app=started.app).get(timeout=60, interval=0.05)
        server.reset()
    except BaseException:
        workers.stop()
        raise
    return started


@pytest.fixture(scope="session", params=STORES)
def worker_set(request: pytest.FixtureRequest, fake_server: FakeServer, store_urls: dict[str, str], broker_url: str,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workers]:
    """Celery workers on each store in turn (pytest finishes one store's tests before starting the next)."""
    started = start_workers(request.param, store_urls[request.param], fake_server,
                            tmp_path_factory.mktemp(f"gateway-workers-{request.param}"))
    yield started
    started.workers.stop()


@pytest.fixture
def workers(worker_set: Workers, server: FakeServer) -> Workers:
    """The workers of the current store, with the gateway's tables empty and the fake server reset."""
    clean(worker_set.settings.database)
    return worker_set


def log_text(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""
