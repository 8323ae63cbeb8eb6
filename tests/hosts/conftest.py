"""Three simulated hosts (tests/support/hosts.py), each running a worker per organ of Organism's production profile.

Every host reaches this session's RabbitMQ vhost and PostgreSQL database (``organism_hosts_<pid>``), Redis database
7 for results, and a fake model server, through bridges of its own; what they run is tests/hosts/workload.py. The
gateway is set as in the gateway tests (3 permits cluster-wide, 2 s leases). No beat runs unless a test starts
one; one that does starts the Daily Sync every minute, and the run key keeps that to one run per day.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
from sqlalchemy import delete

from devtools.fake_model import spawn
from organism import store
from organism.app import Organism, create_app
from organism.settings import Settings
from organism.store.db import forget_engines
from organism.store.models import DeadLetter, Delivery, Report, Run, ScheduleMark
from tests.conftest import make_settings
from tests.gateway.conftest import API_KEY, WORKER_GATEWAY, FakeServer
from tests.gateway.conftest import clean as clean_gateway
from tests.hosts import workload
from tests.support.hosts import SERVICE_PORTS, Host, HostError, Hosts, process_alive, require_tools
from tests.support.services import (
    PG_ADMIN,
    drop_pg_database,
    ensure_services,
    fresh_pg_database,
    own_rabbit_vhost,
)

SESSION = f"organism_hosts_{os.getpid()}"
_SESSIONS = re.compile(r"^organism_hosts_(\d+)$")
BROKER_URL = f"amqp://guest:guest@127.0.0.1:5672/{SESSION}"
RESULTS_URL = "redis://127.0.0.1:6379/7"  # results are keyed by unique task ids: sessions can share it
DATABASE_URL = f"postgresql+psycopg://postgres@127.0.0.1:5432/{SESSION}"
HOSTS = ["h1", "h2", "h3"]
EVERY_MINUTE = {"daily-sync": [{"cron": "* * * * *", "zone": "Asia/Shanghai"}], "weekly-review": []}


@dataclass
class Cluster:
    """The app in this process, the hosts and their workers, and the fake model server they all call."""

    app: Organism
    hosts: Hosts
    server: FakeServer

    @property
    def settings(self) -> Settings:
        return self.app.settings

    def host(self, name: str) -> Host:
        return self.hosts[name]

    def clean(self) -> None:
        """Make this the app that ``skill.delay()`` sends through; empty its queues, its store, the workload's
        tables and the gateway's; reset the model server."""
        self.app.set_current()
        self.app.set_default()
        self.app.control.purge()
        with store.session(DATABASE_URL) as s:
            for table in (Report, Run, DeadLetter, Delivery, ScheduleMark):
                s.execute(delete(table))
        workload.clear(DATABASE_URL)
        clean_gateway(DATABASE_URL)
        self.server.reset()


def environment(data_dir: Path, model_url: str) -> dict[str, str]:
    """What every process of the cluster is given (a host's own data folder replaces ``data_dir`` there)."""
    return {**workload.environment(BROKER_URL, RESULTS_URL, DATABASE_URL), "ORGANISM_DATA_DIR": str(data_dir),
            "ORGANISM_GATEWAY__BASE_URL": model_url, "ORGANISM_GATEWAY__MODEL": "fake-model",
            "ORGANISM_GATEWAY__API_KEY": API_KEY,
            **{f"ORGANISM_GATEWAY__{k.upper()}": str(v) for k, v in WORKER_GATEWAY.items()},
            "ORGANISM_SCHEDULES": json.dumps(EVERY_MINUTE), "ORGANISM_SCHEDULE_TICK_S": "1"}


def remove_stale_sessions() -> None:
    """Delete the vhosts and databases that sessions of this suite which did not finish (killed, say) left; their
    namespaces and processes go with :func:`tests.support.hosts.remove_stale`."""
    def stale(names: list[str]) -> list[str]:
        return [name for name in names if (m := _SESSIONS.match(name)) and not process_alive(int(m.group(1)))]

    ctl = shutil.which("rabbitmqctl")
    if ctl is not None:
        listed = subprocess.run([ctl, "-q", "list_vhosts"], capture_output=True, text=True).stdout.split()
        for vhost in stale(listed):
            subprocess.run([ctl, "-q", "delete_vhost", vhost], capture_output=True)
    with psycopg.connect(PG_ADMIN) as connection:
        databases = [row[0] for row in connection.execute("SELECT datname FROM pg_database")]
    for database in stale(databases):
        drop_pg_database(database)


@pytest.fixture(scope="session")
def three_hosts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    try:
        require_tools()
    except HostError as error:
        pytest.fail(str(error))
    ensure_services()
    remove_stale_sessions()
    fresh_pg_database(SESSION)
    process, model_url = spawn("--api-key", API_KEY)
    try:
        with own_rabbit_vhost(SESSION, "the hosts tests"):
            env = environment(tmp_path_factory.mktemp("hosts"), model_url)
            settings = make_settings(env)
            store.migrate(DATABASE_URL)
            workload.create_tables(DATABASE_URL)
            ports = [*SERVICE_PORTS, int(urlsplit(model_url).port or 0)]
            with Hosts(HOSTS, ports, settings, lambda host: env | {"ORGANISM_DATA_DIR": str(host.folder / "data")},
                       list(settings.organs)) as hosts:
                yield Cluster(create_app(settings), hosts, FakeServer(model_url, process))
    finally:
        process.terminate()
        process.wait(10)
        forget_engines()
        drop_pg_database(SESSION)


@pytest.fixture
def hosts(three_hosts: Cluster) -> Cluster:
    """The three hosts, each connected and every worker answering (a host a test cut off is rebuilt), with empty
    queues and tables."""
    try:
        three_hosts.hosts.ready(three_hosts.app)
    except HostError as error:
        pytest.fail(str(error))
    three_hosts.clean()
    return three_hosts
