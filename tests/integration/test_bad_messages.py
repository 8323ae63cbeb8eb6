"""No message stops a worker: each bad one is rejected, logged, dead-lettered once, and its result failed.

Every case runs on RabbitMQ and on Redis against the real perception worker, and ends with the same proofs: the
worker's main process is the one that was there before, and a good call still succeeds.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
from celery.result import AsyncResult
from kombu import Exchange
from sqlalchemy import create_engine, text

from organism.failures import dead_letters
from organism.failures.bad_messages import MalformedMessage
from tests.conftest import Cluster, Clusters
from tests.support.noop import echo
from tests.support.services import wait_for

pytestmark = pytest.mark.integration
UNSET = object()


@pytest.fixture(params=["production", "redis"])
def broker(request: pytest.FixtureRequest, clusters: Clusters) -> Cluster:
    chosen = clusters[request.param]
    chosen.clean()
    return chosen


def _nested(depth: int) -> list[Any]:
    value: list[Any] = [1]
    for _ in range(depth - 1):
        value = [value]
    return value


def _publish(cluster: Cluster, body: object, serializer: str = "json", task: object = "test.echo",
             task_id: object = UNSET, **headers: object) -> str:
    """Publish ``body`` to the perception queue as a task message; returns the id it carries (or a fresh one
    it does not carry, to find its dead letter by task name)."""
    chosen = str(uuid.uuid4()) if task_id is UNSET else task_id
    encoding = {"content_type": "application/json", "content_encoding": "utf-8"} if serializer == "raw" else {
        "serializer": serializer}
    envelope = {"task": task, "lang": "py", **headers}
    if task_id is not None:
        envelope["id"] = chosen
    with cluster.app.producer_or_acquire() as producer:
        producer.publish(body, exchange=Exchange("organism", type="direct"), routing_key="perception",
                         headers=envelope, **encoding)
    return chosen if isinstance(chosen, str) else ""


def _letters(cluster: Cluster, **where: object) -> list[dead_letters.DeadLetter]:
    return [d for d in dead_letters.find(cluster.settings.database, status=None)
            if all(getattr(d, k) == v for k, v in where.items())]


def _one_letter(cluster: Cluster, what: str, **where: object) -> dead_letters.DeadLetter:
    found = wait_for(lambda: _letters(cluster, **where), 20, f"the dead letter of {what}")
    assert len(found) == 1, f"{what}: {len(found)} dead letters, expected one"
    return found[0]


def _worker_goes_on(cluster: Cluster, pid: int) -> None:
    process = cluster.workers.processes["perception"]
    assert process.poll() is None and process.pid == pid, "the perception worker's main process exited"
    assert echo.delay(7).get(timeout=20)["value"] == 7, "the worker stopped consuming"
    log = (cluster.workers.log_dir / "worker-perception.log").read_text(errors="replace")
    assert "Unrecoverable error" not in log


@pytest.mark.parametrize(("body", "serializer", "task", "reason"), [
    ([[1], {}, {}], "json", "no.such.skill", "unknown-task"),
    ("not a task body", "json", "test.echo", "malformed"),
    ([[1], {}, {}], "pickle", "test.echo", "undecodable"),
    (b"{not json", "raw", "test.echo", "undecodable"),
])
def test_a_bad_message_is_dead_lettered_and_the_worker_goes_on(
        broker: Cluster, body: object, serializer: str, task: str, reason: str) -> None:
    pid = broker.workers.processes["perception"].pid
    task_id = _publish(broker, body, serializer, task)

    letter = _one_letter(broker, f"the {reason} message", task_id=task_id)

    assert (letter.reason, letter.task_name, letter.organ) == (reason, task, "perception")
    _worker_goes_on(broker, pid)
    log = (broker.workers.log_dir / "worker-perception.log").read_text(errors="replace")
    assert f"dead-lettered a {reason} message: task {task} id {task_id}" in log
    with pytest.raises(Exception) as failed:
        AsyncResult(task_id, app=broker.app).get(timeout=20)
    assert failed.type.__name__ in ("MalformedMessage", "NotRegistered", "DecodeError", "ContentDisallowed")


# Each: (what, publish keyword arguments, words the dead letter's error must contain).
MALFORMED = [
    ("a body 500 levels deep", {"body": [[_nested(500)], {}, {}]}, "nested deeper than 100"),
    ("args that are not a list", {"body": [5, {}, {}]}, "args are int"),
    ("kwargs that are not a mapping", {"body": [[5], ["not", "a", "dict"], {}]}, "kwargs are list"),
    ("an embed that is not a mapping", {"body": [[5], {}, "chain"]}, "embed is str"),
    ("a mapping body without args", {"body": {"a": None, "b": None, "c": None}}, "without args"),
    ("a body over the size limit", {"body": [["x" * (8 * 2**20 + 10)], {}, {}]}, "exceeds the limit"),
    ("a task header that is a list", {"body": [[5], {}, {}], "task": ["test.echo"]}, "task header"),
    ("a run header that is a number", {"body": [[5], {}, {}], "organism_run": 5}, "header organism_run is int"),
    ("a retry header that is text", {"body": [[5], {}, {}], "organism_retry": "max_retries=9"},
     "header organism_retry is str"),
    ("retries that are text", {"body": [[5], {}, {}], "retries": "two"}, "header retries is str"),
    ("time limits that are text", {"body": [[5], {}, {}], "timelimit": "abc"}, "header timelimit is str"),
    ("time limits of three numbers", {"body": [[5], {}, {}], "timelimit": [1, 2, 3]}, "not [soft, hard]"),
    ("an eta that is no time", {"body": [[5], {}, {}], "eta": "tomorrow"}, "header eta 'tomorrow'"),
]


@pytest.mark.parametrize(("what", "message", "words"), MALFORMED, ids=[case[0] for case in MALFORMED])
def test_a_malformed_message_is_dead_lettered_its_result_failed_and_the_worker_goes_on(
        broker: Cluster, what: str, message: dict[str, Any], words: str) -> None:
    pid = broker.workers.processes["perception"].pid
    task_id = _publish(broker, **message)

    letter = _one_letter(broker, what, task_id=task_id)

    assert letter.reason == "malformed" and letter.organ == "perception"
    assert words in letter.error_message, letter.error_message
    with pytest.raises(MalformedMessage, match=r"not|exceeds|header|nested"):
        AsyncResult(task_id, app=broker.app).get(timeout=20)
    _worker_goes_on(broker, pid)


def test_a_message_without_an_id_is_dead_lettered_under_a_new_id(broker: Cluster) -> None:
    pid = broker.workers.processes["perception"].pid
    _publish(broker, [[5], {}, {}], task="test.echo", task_id=None, origin="no-id-test")

    letter = _one_letter(broker, "the message without an id", reason="malformed")

    assert "id header None is not a task id" in letter.error_message
    uuid.UUID(letter.task_id)  # a fresh id, so the record has a key
    _worker_goes_on(broker, pid)


def test_a_task_that_is_no_skill_and_fails_leaves_a_dead_letter(broker: Cluster) -> None:
    pid = broker.workers.processes["perception"].pid
    call = broker.app.send_task("organism.hand_on", args=[1, 2], queue="perception", routing_key="perception")

    letter = _one_letter(broker, "the failed call", task_id=call.id)

    assert (letter.reason, letter.task_name, letter.error_type) == ("permanent", "organism.hand_on", "TypeError")
    with pytest.raises(TypeError):
        call.get(timeout=20)
    _worker_goes_on(broker, pid)


def test_an_expired_message_leaves_a_dead_letter(broker: Cluster) -> None:
    pid = broker.workers.processes["perception"].pid
    call = echo.apply_async((3,), expires=datetime.now(UTC) - timedelta(minutes=1))

    letter = _one_letter(broker, "the expired message", task_id=call.id)

    assert (letter.reason, letter.task_name, letter.args) == ("expired", "test.echo", [3])
    assert AsyncResult(call.id, app=broker.app).state == "REVOKED"
    _worker_goes_on(broker, pid)


def test_a_replay_that_dead_letters_again_keeps_its_link(broker: Cluster) -> None:
    first = _publish(broker, [[1], {}, {}], task="no.such.skill")
    original = _one_letter(broker, "the first unknown-task message", task_id=first)

    again = _publish(broker, [[1], {}, {}], task="no.such.skill", organism_replay_of=original.id)

    assert _one_letter(broker, "the replayed message", task_id=again).replay_of == original.id


RAW_ITEMS = [
    b"not json",
    b"\xff\xfe not utf-8",
    b"[1, 2]",
    json.dumps({"headers": ["task"], "body": "", "properties": {"delivery_tag": "t", "delivery_info": {}}}).encode(),
    json.dumps({"body": "e30=", "headers": {"task": "test.echo", "id": "x"}}).encode(),
    json.dumps({"body": "!!", "headers": {}, "properties": {"delivery_tag": "t", "delivery_info": {},
                                                            "body_encoding": "base64"}}).encode(),
]


@pytest.mark.parametrize("raw", RAW_ITEMS, ids=["text", "bytes", "list", "list-headers", "no-properties",
                                                "bad-base64"])
def test_an_item_on_a_redis_queue_that_is_no_message_is_dead_lettered(clusters: Clusters, raw: bytes) -> None:
    cluster = clusters["redis"]
    cluster.clean()
    pid = cluster.workers.processes["perception"].pid
    redis.Redis.from_url(cluster.settings.broker).lpush("perception", raw)

    letter = _one_letter(cluster, "the item", reason="malformed", organ="perception")

    assert letter.kwargs["envelope"] == raw.decode("utf-8", "replace"), "the dead letter lost the item"
    _worker_goes_on(cluster, pid)


@pytest.mark.parametrize("raw", [b"not json", b"[1, 2]"], ids=["text", "list"])
def test_a_row_in_the_embedded_broker_that_is_no_message_is_dead_lettered(clusters: Clusters, raw: bytes) -> None:
    cluster = clusters["embedded"]
    cluster.clean()
    pid = cluster.workers.processes["perception"].pid
    broker = create_engine(cluster.settings.broker.split("+", 1)[1])
    with broker.begin() as connection:
        connection.execute(text(
            "INSERT INTO kombu_message (visible, timestamp, payload, version, queue_id) "
            "SELECT 1, CURRENT_TIMESTAMP, :payload, 1, id FROM kombu_queue WHERE name = 'perception'"),
            {"payload": raw.decode()})
    broker.dispose()

    letter = _one_letter(cluster, "the row", reason="malformed", organ="perception")

    assert letter.kwargs["envelope"] == raw.decode(), "the dead letter lost the row"
    _worker_goes_on(cluster, pid)
