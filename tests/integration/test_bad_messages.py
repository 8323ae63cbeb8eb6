"""Messages a worker cannot run are rejected, logged and dead-lettered; the worker keeps consuming."""

from __future__ import annotations

import uuid

import pytest
from kombu import Exchange

from organism import deadletter
from tests.conftest import Cluster, Clusters
from tests.support.noop import echo
from tests.support.services import wait_for

pytestmark = pytest.mark.integration


@pytest.fixture(params=["production", "redis"])
def broker(request: pytest.FixtureRequest, clusters: Clusters) -> Cluster:
    chosen = clusters[request.param]
    chosen.clean()
    return chosen


def _publish(cluster: Cluster, body: object, serializer: str, task: str) -> str:
    task_id = str(uuid.uuid4())
    encoding = {"content_type": "application/json", "content_encoding": "utf-8"} if serializer == "raw" else {
        "serializer": serializer}
    with cluster.app.producer_or_acquire() as producer:
        producer.publish(body, exchange=Exchange("organism", type="direct"), routing_key="perception",
                         headers={"task": task, "id": task_id, "lang": "py"}, **encoding)
    return task_id


def _dead(cluster: Cluster, task_id: str) -> deadletter.DeadLetter | None:
    return next((d for d in deadletter.find(cluster.settings.database) if d.task_id == task_id), None)


@pytest.mark.parametrize(("body", "serializer", "task", "reason"), [
    ([[1], {}, {}], "json", "no.such.skill", "unknown-task"),
    ("not a task body", "json", "test.echo", "malformed"),
    ([[1], {}, {}], "pickle", "test.echo", "undecodable"),
    (b"{not json", "raw", "test.echo", "undecodable"),
])
def test_a_bad_message_is_dead_lettered_and_the_worker_goes_on(
        broker: Cluster, body: object, serializer: str, task: str, reason: str) -> None:
    task_id = _publish(broker, body, serializer, task)

    letter = wait_for(lambda: _dead(broker, task_id), 20, f"the {reason} message's dead letter")

    assert (letter.reason, letter.task_name, letter.organ) == (reason, task, "perception")
    assert echo.delay(7).get(timeout=20)["value"] == 7, "the worker stopped consuming"
    log = (broker.workers.log_dir / "worker-perception.log").read_text(errors="replace")
    assert f"dead-lettered a {reason} message: task {task} id {task_id}" in log
