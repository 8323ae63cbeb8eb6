"""The organ queues as RabbitMQ quorum queues (``ORGANISM_RABBITMQ_QUEUE_TYPE=quorum``), on real workers.

What a user must see: the queues are quorum queues with at-least-once dead-lettering; a Daily Sync runs; a
transient failure is retried after its countdown (on the broker: a call waiting for its retry does not hold up the
worker, which consumes without global QoS on quorum queues) and then succeeds; a permanent failure leaves its dead
letter in the store and its message on organism.dead; a worker SIGKILLed mid-task loses nothing; and a queue
declared earlier as a classic queue stops the worker with one line that says how to migrate.

RabbitMQ keeps a queue's type for life, so these tests use vhosts of their own.
"""

from __future__ import annotations

import os
import signal
import subprocess
import uuid
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import requests
from kombu import Connection, Queue

from organism import store
from organism.brokers import broker_for
from organism.brokers.queues import DEAD_LETTER_EXCHANGE, DEAD_LETTER_QUEUE, organ_queues
from organism.cli.doctor import check_queues
from organism.failures import dead_letters
from organism.failures.retry import RetryPolicy
from organism.local import LocalWorkers
from organism.settings import Settings
from organism.workflows.start import start
from tests.conftest import Cluster, Clusters, make_settings
from tests.faults.skills import apply, traces
from tests.integration.test_cli import organism
from tests.support.faulty import fetch, refuse
from tests.support.http import scripted_server
from tests.support.noop import echo
from tests.support.services import (
    ROOT,
    finished_run,
    fresh_pg_database,
    own_rabbit_vhost,
    profile_env,
    wait_for,
)

pytestmark = pytest.mark.integration
VHOST = f"organism_quorum_{os.getpid()}"
DATABASE = "organism_quorum_test"


def quorum_env(vhost: str, data_dir: Path) -> dict[str, str]:
    """The production profile on ``vhost`` with quorum organ queues, a store of these tests' own, and one pool
    process for perception (so a call held by its worker would hold up every other perception call)."""
    return profile_env("production", data_dir) | {
        "ORGANISM_BROKER_URL": f"amqp://guest:guest@127.0.0.1:5672/{vhost}",
        "ORGANISM_RESULT_BACKEND": "redis://127.0.0.1:6379/6",
        "ORGANISM_DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:5432/{DATABASE}",
        "ORGANISM_RABBITMQ_QUEUE_TYPE": "quorum",
        "ORGANISM_WORKERS__PERCEPTION__CONCURRENCY": "1",
        "PYTHONPATH": str(ROOT)}


@pytest.fixture(scope="module")
def quorum_clusters(services: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Clusters]:
    fresh_pg_database(DATABASE)
    with own_rabbit_vhost(VHOST, "the quorum queue tests"):
        started = Clusters(tmp_path_factory, env_for=lambda _, data_dir: quorum_env(VHOST, data_dir),
                           prefix="quorum-")
        try:
            yield started
        finally:
            started.stop()


@pytest.fixture
def quorum(quorum_clusters: Clusters) -> Cluster:
    chosen = quorum_clusters["production"]
    chosen.clean()
    return chosen


def management(settings: Settings, path: str) -> Any:
    """A GET of RabbitMQ's management API, as the broker URL's user."""
    api = broker_for(settings.broker).management_api
    assert api is not None
    response = requests.get(f"{api}{path}", timeout=10)
    response.raise_for_status()
    return response.json()


def test_the_organ_queues_are_quorum_queues_that_dead_letter_at_least_once(quorum: Cluster) -> None:
    for organ in quorum.settings.organs:
        queue = wait_for(partial(_consumed_queue, quorum, organ), 30, f"a worker consuming {organ}")
        assert queue["type"] == "quorum", queue
        assert queue["arguments"] == {"x-queue-type": "quorum", "x-dead-letter-exchange": "organism.dead",
                                      "x-dead-letter-routing-key": organ, "x-dead-letter-strategy": "at-least-once",
                                      "x-overflow": "reject-publish"}
    assert check_queues(quorum.settings) == [], "doctor finds the queues it declared at odds with the settings"


def _consumed_queue(cluster: Cluster, name: str) -> dict[str, Any]:
    """The queue ``name`` as the management API shows it, once it has a consumer (empty until then)."""
    found = [q for q in management(cluster.settings, f"queues/{VHOST}") if q["name"] == name]
    return found[0] if found and found[0].get("consumers") else {}


def test_a_daily_sync_runs_on_quorum_queues(quorum: Cluster) -> None:
    started = start(quorum.app, "daily-sync", {"date": "2026-12-08"})

    run = finished_run(quorum.settings.database, started.run_id, timeout_s=120)

    assert run.status == "succeeded", run.error
    assert [n.status for n in run.nodes] == ["succeeded"] * 8


def test_a_transient_failure_is_retried_after_its_countdown_and_then_succeeds(quorum: Cluster) -> None:
    with scripted_server() as (url, script):
        script.answer("/flaky", (503, {}), (503, {}), (200, {}))
        # Sub-second delays: native delayed delivery counts whole seconds, so each is sent as 1 s.
        policy = RetryPolicy(max_retries=3, backoff_base_s=0.3, jitter=0.0)

        call = fetch.apply_async(args=[f"{url}/flaky"], headers=policy.as_header())

        assert call.get(timeout=30) == {"ok": True}
        gaps = script.gaps_s("/flaky")
    assert len(gaps) == 2 and all(gap >= 0.95 for gap in gaps), gaps
    assert dead_letters.find(quorum.settings.database, status=None) == []


def test_a_call_waiting_for_its_retry_does_not_hold_up_its_worker(quorum: Cluster) -> None:
    """On quorum queues Celery cannot widen a consumer's prefetch for a call it keeps until its countdown is due
    (no global QoS), so a kept call would block perception's one pool slot: the countdown waits on the broker."""
    with scripted_server() as (url, script):
        script.answer("/limited", (429, {"Retry-After": "4"}), (200, {}))
        limited = fetch.delay(f"{url}/limited")
        wait_for(lambda: script.arrivals["/limited"], 20, "the first attempt")

        assert echo.delay(7).get(timeout=30)["value"] == 7
        assert len(script.arrivals["/limited"]) == 1, "the other call ran only after the retry"

        assert limited.get(timeout=30) == {"ok": True}


def test_a_permanent_failure_leaves_its_dead_letter_and_its_message_on_the_dead_queue(quorum: Cluster) -> None:
    drain_dead_queue(quorum)
    reason = f"gone {uuid.uuid4().hex}"

    with pytest.raises(Exception, match=reason):
        refuse.delay(reason).get(timeout=30)

    [letter] = wait_for(lambda: dead_letters.find(quorum.settings.database, skill="test.refuse", status=None), 20,
                        "the dead letter")
    assert (letter.reason, letter.organ, letter.error_message) == ("permanent", "perception", reason)
    [(headers, _)] = wait_for(lambda: drain_dead_queue(quorum), 20, "the message on organism.dead")
    assert headers["id"] == letter.task_id
    assert headers["x-death"][0]["reason"] == "rejected" and headers["x-death"][0]["queue"] == "perception"


def drain_dead_queue(cluster: Cluster) -> list[tuple[dict[str, Any], Any]]:
    """Take every message off organism.dead: (headers, body) each."""
    with cluster.app.connection_for_write() as connection:
        queue = Queue(DEAD_LETTER_QUEUE, DEAD_LETTER_EXCHANGE)(connection.default_channel)
        return [(message.headers or {}, message.body)
                for message in iter(lambda: queue.get(no_ack=True, accept=["json"]), None)]


def test_a_worker_killed_mid_task_loses_nothing(quorum: Cluster) -> None:
    prefix = f"quorum:kill:{uuid.uuid4().hex}"
    calls = {key: apply.delay(prefix, key, 1.0) for key in (f"k{n}" for n in range(6))}
    worker = quorum.workers.processes["perception"]
    busy = wait_for(lambda: traces().hgetall(f"{prefix}:busy"), 30, "a call in a pool process's hands")
    in_hand = str(next(iter(busy.values())))

    os.killpg(worker.pid, signal.SIGKILL)  # the main process and its pool, as a host that vanished
    worker.wait(10)
    quorum.workers.start("perception")

    assert {key: call.get(timeout=60) for key, call in calls.items()} == {key: key for key in calls}
    assert traces().smembers(f"{prefix}:effect") == set(calls)
    started = traces().lrange(f"{prefix}:started", 0, -1)
    assert started.count(in_hand) == 2, f"{in_hand} was in hand at the kill and did not run again"


def test_a_classic_queue_stops_a_quorum_worker_and_fails_doctor_with_the_migration_in_one_line(
        services: None, tmp_path: Path) -> None:
    vhost = f"organism_quorum_migrate_{os.getpid()}"
    with own_rabbit_vhost(vhost, "the quorum migration test"):
        env = quorum_env(vhost, tmp_path) | {"ORGANISM_DATABASE_URL": f"sqlite:///{tmp_path}/organism.sqlite"}
        settings = make_settings(env)
        assert check_queues(settings) == [] and management(settings, f"queues/{vhost}") == [], \
            "doctor declared a queue"
        classic = make_settings(env | {"ORGANISM_RABBITMQ_QUEUE_TYPE": "classic"})
        with Connection(classic.broker) as connection:
            for queue in organ_queues(classic, broker_for(classic.broker)):
                queue(connection.default_channel).declare()
        store.migrate(settings.database)

        doctor = organism("doctor", env=env)
        (tmp_path / "logs").mkdir()
        workers = LocalWorkers(settings, env=env, log_dir=tmp_path / "logs", organs=["perception"])
        process = workers.start("perception")
        try:
            assert process.wait(60) == 1
        except subprocess.TimeoutExpired:
            workers.stop()
            raise
        log = workers.log_tail("perception", 200)

    fix = (f"to make it a quorum queue, stop the producers (beat, console), let the workers of the old settings drain "
           f"it (rabbitmqctl list_queues -p {vhost} name messages shows 0), stop them, delete it (rabbitmqctl "
           f"delete_queue -p {vhost} perception) and start the workers again; or move to a new vhost "
           "(docs/deploy.md, Quorum queues)")
    lines = [line for line in log.splitlines() if line.startswith("the organ queue perception was declared earlier")]
    assert len(lines) == 1 and lines[0].endswith(fix), log
    assert "inequivalent arg 'x-max-priority' for queue 'perception'" in lines[0]
    assert "Traceback" not in log, log

    assert doctor.returncode == 1 and "Traceback" not in doctor.stderr, doctor.stderr
    failed = [line for line in doctor.stdout.splitlines() if line.startswith("FAIL")]
    assert [line.split()[:3] for line in failed] == [["FAIL", "queue", f"{organ}:"] for organ in settings.organs]
    assert "inequivalent arg 'x-max-priority'" in failed[0] and failed[0].endswith(f"— {fix}")
    assert any(line.startswith("WARN  ORGANISM_RABBITMQ_QUEUE_TYPE: quorum organ queues have no priorities")
               for line in doctor.stdout.splitlines()), doctor.stdout
