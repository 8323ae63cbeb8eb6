"""Clusters for the fault tests: their own broker namespace, store and limits, so a kill or a restart never
lands on the clusters the integration tests share, and those never take these tests' messages.

| profile | broker | results | store |
|---|---|---|---|
| production | RabbitMQ vhost ``organism_faults`` | Redis db 11 | PostgreSQL ``organism_faults`` |
| redis | Redis db 4 (the other suites use 8 to 15) | Redis db 13 | PostgreSQL ``organism_faults`` |

Task ids are unique, so sharing result databases with the integration tests is harmless; queues are not.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from kombu import Connection

from tests.conftest import Cluster, Clusters
from tests.support.noop import where
from tests.support.services import (
    ROOT,
    ensure_rabbit_vhost,
    ensure_services,
    fresh_pg_database,
    profile_env,
    rabbitmqctl,
    wait_for,
)

FAULTS_VHOST = "organism_faults"
FAULTS_DATABASE = "organism_faults"
REDIS_BROKER = "redis://127.0.0.1:6379/4"
PROFILES = ("production", "redis")
# What these clusters change from the defaults, and why:
# * Eight pool processes on perception, so 500 calls of 50-100 ms drain in a few seconds.
# * Runs get 30 s (Redis: 15 s) before the watchdog, which beat sends every 2 s when a test starts beat, fails
#   them: twice what a run of these tests needs on a quiet machine, even across a RabbitMQ restart (about 14 s:
#   a worker that lost its connection tries again after 2, 4, 6 s..., kombu's intervals). Beat starts no workflow.
FAULT_ENV = {
    "ORGANISM_WORKERS__PERCEPTION__CONCURRENCY": "8",
    "ORGANISM_RUN_DEADLINE_S": "30",
    "ORGANISM_WATCHDOG_INTERVAL_S": "2",
    "ORGANISM_SCHEDULES": json.dumps({"daily-sync": [], "weekly-review": []}),  # beat runs only the watchdogs
}
# * Redis hands out again a message whose consumer died without acking it only after the broker's visibility
#   timeout (settings.redis_visibility_timeout_s, 3600 s by default), so a killed main process's messages
#   would come back in an hour. 8 s brings them back within a test. Organism refuses a visibility timeout that
#   does not exceed the longest task (the hard time limit) plus the longest countdown (the Retry-After cap),
#   because a message held longer than that is handed to a second worker while the first still has it: so
#   those come down too, to 5 s and 2 s, which every skill these tests send to Redis fits in. RabbitMQ
#   redelivers as soon as the connection drops, so the production cluster keeps the default limits.
REDIS_ENV = {
    "ORGANISM_TASK_SOFT_TIME_LIMIT_S": "4",
    "ORGANISM_TASK_TIME_LIMIT_S": "5",
    "ORGANISM_RETRY_AFTER_MAX_S": "2",
    "ORGANISM_REDIS_VISIBILITY_TIMEOUT_S": "8",
    "ORGANISM_RUN_DEADLINE_S": "15",
}
READY_TIMEOUT_S = 60


def fault_env(profile: str, data_dir: Path) -> dict[str, str]:
    env = profile_env(profile, data_dir) | FAULT_ENV
    env["ORGANISM_DATABASE_URL"] = f"postgresql+psycopg://postgres@127.0.0.1:5432/{FAULTS_DATABASE}"
    if profile == "production":
        env["ORGANISM_BROKER_URL"] = f"amqp://guest:guest@127.0.0.1:5672/{FAULTS_VHOST}"
    else:
        env |= REDIS_ENV | {"ORGANISM_BROKER_URL": REDIS_BROKER}
    return env


# -- services: up, and back up after a test took one down -------------------------------------------------------

def rabbitmq_answers() -> bool:
    try:
        with Connection(f"amqp://guest:guest@127.0.0.1:5672/{FAULTS_VHOST}", connect_timeout=2) as connection:
            connection.ensure_connection(max_retries=1, timeout=2)
        return True
    except Exception:
        return False


def redis_answers() -> bool:
    try:
        return bool(redis.Redis.from_url("redis://127.0.0.1:6379/0", socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def bring_back_rabbitmq() -> None:
    """Start RabbitMQ's application if it was stopped (``start_app`` on a running one changes nothing), or the
    whole node if that is down, and wait until it accepts an AMQP login again."""
    if rabbitmq_answers():
        return
    try:
        rabbitmqctl("start_app", timeout_s=90)
    except subprocess.SubprocessError:
        ensure_services()  # the node itself is down: rabbitmq-server -detached
    wait_for(rabbitmq_answers, 90, "RabbitMQ to accept logins again", interval_s=0.5)


def bring_back_redis() -> None:
    if not redis_answers():
        ensure_services()
    wait_for(redis_answers, 60, "Redis to answer again", interval_s=0.2)


# -- clusters ---------------------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def fault_clusters(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Clusters]:
    ensure_services()
    ensure_rabbit_vhost(FAULTS_VHOST)
    fresh_pg_database(FAULTS_DATABASE)
    started = Clusters(tmp_path_factory, fault_env, prefix="faults-")
    yield started
    started.stop()


def ready(cluster: Cluster) -> Cluster:
    """Restart any organ worker that has exited, then wait until every organ runs a call."""
    for organ in cluster.workers.dead():
        cluster.workers.start(organ)
    cluster.clean()
    calls = {organ: where[organ].delay() for organ in cluster.settings.organs}
    for organ, call in calls.items():
        try:
            call.get(timeout=READY_TIMEOUT_S)
        except Exception as error:
            pytest.fail(f"the {cluster.profile} {organ} worker ran nothing ({error!r}); its log:\n"
                        f"{cluster.workers.log_tail(organ)}")
    return cluster


@pytest.fixture(params=PROFILES)
def faults(request: pytest.FixtureRequest, fault_clusters: Clusters) -> Cluster:
    """A fault cluster of each broker that redelivers after a crash (not embedded: see README), ready and empty."""
    return ready(fault_clusters[request.param])


# -- processes --------------------------------------------------------------------------------------------------

def children(pid: int) -> list[int]:
    """The pool processes of a worker's main process."""
    try:
        found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    return [int(child) for child in found]


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name, or None if there is no such process: [0] is the
    state, [19] the start time (fields 3 and 22 of proc(5))."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def alive(pid: int) -> bool:
    fields = _stat(pid)
    return fields is not None and fields[0] != "Z"


def wait_past_visibility_timeout(cluster: Cluster) -> None:
    """On Redis, wait until every message a killed consumer held is older than the visibility timeout (kombu's
    unacked index says when each was handed out), so that a worker started now hands them out again.

    kombu looks for such messages when a worker connects, then only every unacked_restore_interval x
    unacked_restore_throttle = 10 s x 10 = 100 s (Organism sets neither): a worker started earlier would finish
    the queue and leave the held messages waiting for that sweep, past a test's budget. (With the default timeout
    of an hour, the sweep's extra minute or two hardly matters.) RabbitMQ redelivers at once: nothing to wait for.
    """
    if not cluster.settings.broker.startswith("redis"):
        return
    timeout_s = cluster.settings.redis_visibility_timeout_s
    with cluster.app.connection_for_read() as connection:
        channel = connection.default_channel
        wait_for(lambda: channel.client.zcount(channel.unacked_index_key, time.time() - timeout_s, "+inf") == 0,
                 timeout_s + 5, "the killed worker's messages to pass the visibility timeout", interval_s=0.2)


def kill_leftovers(pids: list[int], grace_s: float = 10) -> list[int]:
    """Wait up to ``grace_s`` for processes this test orphaned to exit; SIGKILL those that did not; return them.

    A process is killed only if it is still the one that was there when this was called (same start time), so a
    pid the system has since given to another process is left alone.
    """
    born = {pid: fields[19] for pid in pids if (fields := _stat(pid)) is not None}
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and any(alive(pid) for pid in born):
        time.sleep(0.1)
    stuck = [pid for pid in born if alive(pid) and (fields := _stat(pid)) is not None and fields[19] == born[pid]]
    for pid in stuck:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return stuck


class Beat:
    """``organism beat`` for a cluster (the Procfile's one beat), sending the watchdog every few seconds."""

    def __init__(self, cluster: Cluster) -> None:
        log = (cluster.workers.log_dir / "beat.log").open("ab")
        organism = str(Path(sys.executable).with_name("organism"))
        self.process = subprocess.Popen([organism, "beat", "--loglevel", "INFO"], env=cluster.workers.env,
                                        stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=ROOT)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def beat(faults: Cluster) -> Iterator[Beat]:
    running = Beat(faults)
    yield running
    running.stop()
