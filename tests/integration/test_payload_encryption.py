"""Payload encryption on RabbitMQ with real workers: a sensitive skill's arguments are ciphertext on the broker and
in every record, and plaintext only where the skill runs.

The messages are read raw off the queue before any worker takes them; keys rotate by restarting the worker with
other settings, so these tests have a vhost of their own.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import redis
from celery import chain
from kombu import Connection, Queue

from organism import store
from organism.app import Organism, create_app
from organism.brokers.queues import DEAD_LETTER_QUEUE
from organism.errors import PermanentError
from organism.failures import dead_letters
from organism.failures.replay import Arguments, replay
from organism.local import LocalWorkers
from organism.security.payload_settings import new_key
from organism.security.payloads import PayloadError
from organism.security.sealed_calls import SEALED
from organism.store.models import DeadLetter
from tests.conftest import make_settings
from tests.integration.test_secrets import task_events
from tests.support.faulty import SIDE_EFFECTS
from tests.support.sensitive import countersign, digest, pay
from tests.support.services import ROOT, TEST_MODULES, ensure_services, own_rabbit_vhost, profile_env, wait_for

pytestmark = pytest.mark.integration
VHOST = f"organism_payloads_{os.getpid()}"
AMQP_URL = f"amqp://guest:guest@127.0.0.1:5672/{VHOST}"
MODULES = json.dumps([*json.loads(TEST_MODULES), "tests.support.sensitive"])
OLD, NEW = {"old": new_key()}, {"new": new_key()}
ROTATED = NEW | OLD  # the new key first: it seals; the old one still opens


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    ensure_services()
    with own_rabbit_vhost(VHOST, "the payload encryption tests"):
        yield tmp_path_factory.mktemp("payloads")


@pytest.fixture
def account() -> str:
    """A fresh secret per test: found anywhere but where the skill runs, it leaked."""
    return f"acct-{uuid.uuid4().hex}"


def env_with(data_dir: Path, keys: dict[str, str] | None) -> dict[str, str]:
    env = profile_env("production", data_dir) | {
        "ORGANISM_BROKER_URL": AMQP_URL, "ORGANISM_DATABASE_URL": f"sqlite:///{data_dir}/organism.sqlite",
        "ORGANISM_TASK_MODULES": MODULES, "PYTHONPATH": str(ROOT)}
    return env | ({"ORGANISM_PAYLOADS__KEYS": json.dumps(keys)} if keys else {})


def app_with(data_dir: Path, keys: dict[str, str] | None) -> Organism:
    """An app in this process holding ``keys``, the one ``skill.delay()`` sends through."""
    settings = make_settings(env_with(data_dir, keys))
    store.migrate(settings.database)
    app = create_app(settings)
    app.set_current()
    app.set_default()
    return app


@contextmanager
def workers(data_dir: Path, keys: dict[str, str] | None) -> Iterator[LocalWorkers]:
    """A perception worker holding ``keys`` while the block runs."""
    env = env_with(data_dir, keys)
    with LocalWorkers(make_settings(env), env=env, log_dir=data_dir / "logs", organs=["perception"]) as started:
        yield started


def raw_messages(app: Organism, queue: str) -> list[tuple[bytes, dict[str, Any]]]:
    """The messages waiting on ``queue`` as the broker holds them (body bytes, headers), left where they are."""
    with Connection(app.settings.broker) as connection:
        bound = Queue(queue)(connection.default_channel)
        taken = list(iter(lambda: bound.get(no_ack=False), None))
        for message in taken:
            message.requeue()
        return [(message.body, message.headers) for message in taken]


def letter_of(app: Organism, task_id: str) -> DeadLetter:
    def found() -> DeadLetter | None:
        return next((d for d in dead_letters.find(app.settings.database, status=None) if d.task_id == task_id), None)

    letter = wait_for(found, 30, f"the dead letter of {task_id}")
    assert letter is not None
    return letter


def nowhere(secret: str, *texts: Any) -> None:
    """Assert ``secret`` is in none of ``texts`` (bytes, text, or anything JSON shows)."""
    for text in texts:
        if isinstance(text, bytes):
            assert secret.encode() not in text, text
        else:
            shown = text if isinstance(text, str) else json.dumps(text, default=str)
            assert secret not in shown, shown


@pytest.fixture(autouse=True)
def empty_queue(data_dir: Path) -> None:
    app_with(data_dir, None).control.purge()


def test_the_broker_holds_ciphertext_and_the_skill_gets_plaintext(data_dir: Path, account: str) -> None:
    app = app_with(data_dir, OLD)
    signer = f"signer-{uuid.uuid4().hex}"
    sent = pay.delay(account, 120)
    steps = chain(pay.s(account, 7), countersign.s(signer)).apply_async()  # the second step is sent by the worker

    waiting = raw_messages(app, "perception")
    assert len(waiting) == 2
    for body, headers in waiting:
        nowhere(account, body, json.dumps(headers))
        nowhere(signer, body)
        assert headers["kwargsrepr"] == "{'organism_sealed': '<sealed with payload key old>'}"
    args, kwargs, _ = json.loads(waiting[0][0])
    assert args == [] and list(kwargs) == [SEALED] and kwargs[SEALED]["key"] == "old"

    with workers(data_dir, OLD) as running:
        assert sent.get(timeout=30) == {"account_sha256": digest(account), "amount": 120}
        assert steps.get(timeout=30) == {"amount": 7, "signer_sha256": digest(signer)}
        with task_events(app) as events:
            echoed = pay.delay(account, 1, echo=True)
            assert echoed.get(timeout=30) == {"account": "***"}  # a result never holds a sensitive argument
            wait_for(lambda: {"task-received", "task-succeeded"} <= {
                e["type"] for e in list(events) if e.get("uuid") == echoed.id}, 20, "the call's events")
        log = running.log_tail("perception", 400)
    results = redis.Redis.from_url(app.settings.results)
    stored = [results.get(f"celery-task-meta-{task_id}") for task_id in (sent.id, echoed.id, steps.id)]
    assert all(stored) and "its result held some of its sensitive arguments" in log
    for secret in (account, signer):
        nowhere(secret, *stored, log, list(events))


def test_a_sensitive_call_with_no_key_is_refused_before_anything_is_sent(data_dir: Path, account: str) -> None:
    app = app_with(data_dir, None)

    with pytest.raises(PayloadError) as refused:
        pay.delay(account, 1)

    assert str(refused.value) == ("test.pay is declared sensitive, but no payload key is configured: set "
                                  "ORGANISM_PAYLOADS__KEYS ([payloads] keys; `organism keys payload-key` makes one)")
    assert raw_messages(app, "perception") == []


def test_after_rotation_a_message_sealed_with_the_old_key_still_runs(data_dir: Path, account: str) -> None:
    app_with(data_dir, OLD)
    before = pay.delay(account, 5)
    app = app_with(data_dir, ROTATED)
    after = pay.delay(account, 6, flaky=f"flaky:{uuid.uuid4()}")  # its retry is sealed again by the worker
    [(_, first), (_, second)] = raw_messages(app, "perception")
    assert "payload key old" in first["kwargsrepr"] and "payload key new" in second["kwargsrepr"]

    with workers(data_dir, ROTATED):
        assert before.get(timeout=30) == {"account_sha256": digest(account), "amount": 5}
        assert after.get(timeout=30) == {"account_sha256": digest(account), "amount": 6}
    assert not [d for d in dead_letters.find(app.settings.database, status=None) if d.task_id in (before.id, after.id)]


def test_a_message_sealed_with_a_removed_key_is_dead_lettered_with_the_reason(data_dir: Path, account: str) -> None:
    app_with(data_dir, OLD)
    sent = pay.delay(account, 9)
    app = app_with(data_dir, NEW)

    with workers(data_dir, NEW) as running:
        with pytest.raises(PayloadError) as failed:
            sent.get(timeout=30)
        letter = letter_of(app, sent.id)
        [(moved, _)] = wait_for(lambda: dead_queue_copies(app, sent.id), 20, "the message on the dead-letter queue")
        log = running.log_tail("perception", 200)

    reason = ("test.pay: its sealed arguments need payload key 'old', which is not configured (configured: 'new'); "
              "put it back in ORGANISM_PAYLOADS__KEYS to open them")
    assert str(failed.value) == reason
    assert (letter.reason, letter.error_type, letter.error_message) == ("permanent", "PayloadError", reason)
    assert letter.args == [] and letter.kwargs[SEALED]["key"] == "old" and letter.replayable
    assert reason in log
    for secret in (account, OLD["old"], NEW["new"]):
        nowhere(secret, json.dumps(letter.__dict__, default=str), moved, log)


def test_a_failed_sensitive_call_keeps_ciphertext_in_its_dead_letter_and_its_replay_succeeds(
        data_dir: Path, account: str) -> None:
    app = app_with(data_dir, ROTATED)
    gate, other = f"gate:{uuid.uuid4()}", f"acct-{uuid.uuid4().hex}"
    side_effects = redis.Redis.from_url(SIDE_EFFECTS)
    side_effects.set(gate, 1)

    with workers(data_dir, ROTATED) as running:
        sent, again = pay.delay(account, 30, gate=gate), pay.delay(account, 31, gate=gate)
        for call in (sent, again):
            with pytest.raises(PermanentError, match=r"^payments from \*\*\* are closed$"):
                call.get(timeout=30)
        letter, second = letter_of(app, sent.id), letter_of(app, again.id)
        [(moved, _)] = wait_for(lambda: dead_queue_copies(app, sent.id), 20, "the message on the dead-letter queue")
        side_effects.delete(gate)

        replayed = replay(app, letter.id)
        edited = replay(app, second.id, arguments=Arguments([other, 32], {}))
        assert app.AsyncResult(replayed.task_id).get(timeout=30) == {"account_sha256": digest(account), "amount": 30}
        assert app.AsyncResult(edited.task_id).get(timeout=30) == {"account_sha256": digest(other), "amount": 32}
        log = running.log_tail("perception", 300)

    assert letter.args == [] and letter.kwargs[SEALED]["key"] == "new" and letter.replayable
    assert letter.error_message == "payments from *** are closed"
    kept = dead_letters.get(app.settings.database, second.id)
    assert kept is not None and kept.status == "replayed" and kept.replay_arguments is not None
    assert kept.replay_arguments["args"] == [] and kept.replay_arguments["kwargs"][SEALED]["key"] == "new"
    stored = redis.Redis.from_url(app.settings.results).get(f"celery-task-meta-{sent.id}")
    for secret in (account, other):
        nowhere(secret, json.dumps(letter.__dict__, default=str), json.dumps(kept.__dict__, default=str), moved,
                log, stored)


def dead_queue_copies(app: Organism, task_id: str) -> list[tuple[bytes, dict[str, Any]]]:
    """The messages of ``task_id`` on the dead-letter queue (RabbitMQ moved them there itself)."""
    return [message for message in raw_messages(app, DEAD_LETTER_QUEUE) if message[1].get("id") == task_id]
