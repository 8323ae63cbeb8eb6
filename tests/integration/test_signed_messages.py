"""Signed messages on real workers, on RabbitMQ and on Redis: with signing on, everything Organism publishes is
signed and runs, and a message that is not signed by a trusted key is refused, recorded once as a bad message,
and the worker goes on.

The key and certificate are the ones `organism keys generate` writes (run as an operator would); every worker
process and this one load them from ORGANISM_SIGNING__* settings. The clusters use their own RabbitMQ vhost and
Redis databases, so that no unsigned worker of another suite takes their messages.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
import redis
from celery.result import AsyncResult
from kombu import Queue
from kombu.serialization import dumps

from organism import store
from organism.app import create_app
from organism.brokers.queues import DEAD_LETTER_EXCHANGE, DEAD_LETTER_QUEUE
from organism.failures import dead_letters
from organism.failures.replay import ReplayRefused, replay
from organism.local import LocalWorkers
from organism.security import signing
from organism.security.signing import SigningFiles
from organism.security.signing_keys import Generated
from organism.workflows.start import start
from tests.conftest import Cluster, make_settings
from tests.support.noop import NOOP_SYNC, echo
from tests.support.services import ROOT, ensure_services, finished_run, own_rabbit_vhost, profile_env, wait_for
from tests.support.signing import make_keys, signed_by, signing_undone

pytestmark = pytest.mark.integration
VHOST = f"organism_signing_{os.getpid()}"
REDIS_BROKER, REDIS_RESULTS = "redis://127.0.0.1:6379/6", "redis://127.0.0.1:6379/7"  # these tests' own
BROKERS = {"production": f"amqp://guest:guest@127.0.0.1:5672/{VHOST}", "redis": REDIS_BROKER}


@pytest.fixture(scope="module")
def ours(tmp_path_factory: pytest.TempPathFactory) -> SigningFiles:
    """The key and certificate `organism keys generate` writes."""
    where = tmp_path_factory.mktemp("keys")
    done = subprocess.run([sys.executable, "-m", "organism", "keys", "generate", "--dir", str(where / "signing"),
                           "--bits", "2048", "--name", "organism-tests"], capture_output=True, text=True, cwd=where,
                          env={"PATH": os.environ["PATH"], "ORGANISM_DATA_DIR": str(where / "var")})
    assert done.returncode == 0, done.stderr
    key, certificate = where / "signing/organism-key.pem", where / "signing/organism-cert.pem"
    assert f"ORGANISM_SIGNING__KEY_FILE={key}" in done.stdout
    return SigningFiles(key, certificate, certificate)


@pytest.fixture(scope="module")
def stranger(tmp_path_factory: pytest.TempPathFactory) -> Generated:
    """A key and certificate no worker trusts."""
    return make_keys(tmp_path_factory.mktemp("stranger"), "stranger")


@pytest.fixture(scope="module")
def rabbit_vhost() -> Iterator[str]:
    ensure_services()
    with own_rabbit_vhost(VHOST, "the signing tests") as vhost:
        yield vhost


@pytest.fixture(scope="module", params=["production", "redis"])
def signed(request: pytest.FixtureRequest, ours: SigningFiles, rabbit_vhost: str,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """One worker per organ (one pool process each) with signing on, and this process's app signing too."""
    profile = request.param
    for url in (REDIS_BROKER, REDIS_RESULTS):
        redis.Redis.from_url(url).flushdb()
    data_dir = tmp_path_factory.mktemp(f"signed-{profile}")
    env = profile_env(profile, data_dir) | {
        "ORGANISM_BROKER_URL": BROKERS[profile], "ORGANISM_RESULT_BACKEND": REDIS_RESULTS,
        "ORGANISM_DATABASE_URL": f"sqlite:///{data_dir}/organism.sqlite", "PYTHONPATH": str(ROOT),
        "ORGANISM_SIGNING__ENABLED": "true", "ORGANISM_SIGNING__KEY_FILE": str(ours.key),
        "ORGANISM_SIGNING__CERTIFICATE_FILE": str(ours.certificate),
        **{f"ORGANISM_WORKERS__{organ.upper()}__CONCURRENCY": "1"
           for organ in ("perception", "judgment", "relationship", "evolution")}}
    settings = make_settings(env)
    store.migrate(settings.database)
    with signing_undone():
        app = create_app(settings)
        cluster = Cluster(profile, env, app, LocalWorkers(settings, env=env, log_dir=data_dir / "logs"))
        cluster.clean()
        with cluster.workers:
            organs = len(settings.organs)  # ready once each worker answers a (signed) ping
            wait_for(lambda: len(app.control.ping(timeout=1, limit=organs)) == organs, 60, "every worker to answer")
            yield cluster


@pytest.fixture
def cluster(signed: Cluster) -> Cluster:
    signed.clean()
    return signed


def _log(cluster: Cluster) -> str:
    return (cluster.workers.log_dir / "worker-perception.log").read_text(errors="replace")


def _worker_goes_on(cluster: Cluster, pid: int) -> None:
    process = cluster.workers.processes["perception"]
    assert process.poll() is None and process.pid == pid, "the perception worker's main process exited"
    assert echo.delay(7).get(timeout=30)["value"] == 7, "a signed call after the refused one did not run"
    assert "Unrecoverable error" not in _log(cluster)


def _letters(cluster: Cluster, **where: Any) -> list[Any]:
    return [d for d in dead_letters.find(cluster.settings.database, status=None)
            if all(getattr(d, k) == v for k, v in where.items())]


def _one_letter(cluster: Cluster, what: str, **where: Any) -> Any:
    found = wait_for(lambda: _letters(cluster, **where), 30, f"the dead letter of {what}")
    assert len(found) == 1, f"{what}: {len(found)} dead letters, expected one"
    return found[0]


def test_a_signed_daily_sync_runs_every_phase_and_remote_control_is_signed_too(cluster: Cluster) -> None:
    started = start(cluster.app, NOOP_SYNC, {"date": date(2026, 11, 23)})

    run = finished_run(cluster.settings.database, started.run_id, 90)

    assert run.status == "succeeded", run.error  # scans, the chord's join, judgments, hand-over: all accepted
    assert _letters(cluster) == []
    # Control messages are signed with the same key: each worker answers a signed ping, its reply signed too.
    answered = cluster.app.control.ping(timeout=10, limit=len(cluster.settings.organs))
    assert len(answered) == len(cluster.settings.organs)


def _dead_queue(cluster: Cluster) -> list[tuple[str, Any]]:
    """Every message on the dead-letter queue: (content type, body as this app decodes it)."""
    with cluster.app.connection_for_write() as connection:
        queue = Queue(DEAD_LETTER_QUEUE, DEAD_LETTER_EXCHANGE)(connection.default_channel)
        taken = iter(lambda: queue.get(no_ack=True, accept=[signing.SIGNED_CONTENT_TYPE]), None)
        return [(message.content_type, message.decode()) for message in taken]


def test_a_retry_the_dead_letter_message_and_a_replay_are_signed(cluster: Cluster) -> None:
    from tests.support.faulty import fail_with

    call = fail_with.delay("still down", transient=True)  # fails, is retried once (a message the worker sends)

    letter = _one_letter(cluster, "the retried call", task_id=call.id)

    # two attempts: the call, and its retry, which the worker sent and a worker accepted
    assert letter.reason == "exhausted" and len(letter.attempts) == 2, letter.attempts
    # RabbitMQ moves the message itself there; on Redis the app publishes a copy: signed either way.
    kept = wait_for(lambda: _dead_queue(cluster), 20, "the message on the dead-letter queue")
    assert [content_type for content_type, _ in kept] == [signing.SIGNED_CONTENT_TYPE]
    replayed = replay(cluster.app, letter.id)
    again = _one_letter(cluster, "the replayed call", task_id=replayed.task_id)
    assert (again.replay_of, again.reason, len(again.attempts)) == (letter.id, "exhausted", 2)


def _publish(cluster: Cluster, body: str, content_type: str, task_id: str) -> None:
    """``body`` onto the perception queue as a test.echo task message with id ``task_id``, as any client with
    the broker's password could put it there."""
    queue = next(q for q in cluster.app.conf.task_queues if q.name == "perception")
    with cluster.app.producer_or_acquire() as producer:
        producer.publish(body, exchange=queue.exchange, routing_key=queue.routing_key, content_type=content_type,
                         content_encoding="utf-8", headers={"lang": "py", "task": "test.echo", "id": task_id})


def _body(task_id: str) -> list[Any]:
    return [[5], {}, {signing.BOUND: {"task": "test.echo", "id": task_id}}]


def _ours(body: Any) -> str:
    """``body`` signed with this process's key (the app's), as Celery signs it."""
    return str(dumps(body, serializer="auth")[2])


# (case, the message for a task id, its dead letter's reason, words its error must hold)
REFUSED = [
    ("unsigned", lambda ours, stranger, task_id: ('[[5], {}, {}]', "application/json"),
     "unsigned", "not signed"),
    ("signed by a stranger", lambda ours, stranger, task_id: (
        signed_by(stranger.key, stranger.certificate, _body(task_id)), signing.SIGNED_CONTENT_TYPE),
     "bad-signature", "Unknown certificate"),
    ("a stranger claiming our certificate", lambda ours, stranger, task_id: (
        signed_by(stranger.key, ours.certificate, _body(task_id)), signing.SIGNED_CONTENT_TYPE),
     "bad-signature", "Bad signature"),
    ("our signed body under another id", lambda ours, stranger, task_id: (
        _ours(_body(str(uuid.uuid4()))), signing.SIGNED_CONTENT_TYPE),
     "bad-signature", "published for task 'test.echo' id"),
]


@pytest.mark.parametrize(("case", "message", "reason", "words"), REFUSED, ids=[case[0] for case in REFUSED])
def test_a_message_not_signed_by_a_trusted_key_is_refused_recorded_and_the_worker_goes_on(
        cluster: Cluster, ours: SigningFiles, stranger: Generated, case: str, message: Any, reason: str,
        words: str) -> None:
    pid = cluster.workers.processes["perception"].pid
    task_id = str(uuid.uuid4())
    body, content_type = message(ours, stranger, task_id)
    _publish(cluster, body, content_type, task_id)

    letter = _one_letter(cluster, f"the message {case}", task_id=task_id)

    assert (letter.reason, letter.task_name, letter.organ) == (reason, "test.echo", "perception")
    assert words in letter.error_message, letter.error_message
    assert letter.args == [5] and not letter.replayable  # kept as evidence, not as a call
    assert f"dead-lettered a {reason} message: task test.echo id {task_id}" in _log(cluster)
    with pytest.raises(Exception, match=r"signed|signature") as failed:
        AsyncResult(task_id, app=cluster.app).get(timeout=20)
    assert failed.type.__name__ in ("Unsigned", "BadSignature")
    with pytest.raises(ReplayRefused, match="--arguments"):
        replay(cluster.app, letter.id)
    _worker_goes_on(cluster, pid)


def test_an_unsigned_shutdown_is_ignored_by_every_worker(cluster: Cluster) -> None:
    pid = cluster.workers.processes["perception"].pid
    unsigned = create_app(make_settings(cluster.env | {"ORGANISM_SIGNING__ENABLED": "false"}))

    unsigned.control.shutdown()  # to every worker, as anyone with the broker's password could send it

    wait_for(lambda: "ignored a remote-control message: not signed" in _log(cluster), 20,
             "the perception worker to ignore the unsigned shutdown")
    cluster.app.set_current()
    _worker_goes_on(cluster, pid)
    assert cluster.workers.dead() == [], "a worker obeyed an unsigned shutdown"
