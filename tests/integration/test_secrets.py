"""No secret in clear and nothing unpickled, with real workers.

A call handed a URL with a password and an API key leaves neither in the worker's log, the result backend, the
task events or its dead letter; results reach the log only when ``log_results`` asks, and then redacted; a 2 MB
argument writes kilobytes of log; a tampered result (a pickle that would run code) is refused with a logged error
on SQLite and on Redis.
"""

from __future__ import annotations

import json
import logging
import pickle
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import redis
from celery.backends.database import DatabaseBackend
from celery.result import AsyncResult
from sqlalchemy import create_engine, text

from organism import store
from organism.app import Organism, create_app
from organism.brokers.results import RefusedResult
from organism.errors import PermanentError
from organism.failures import dead_letters
from organism.local import LocalWorkers
from tests.conftest import Cluster, make_settings
from tests.support.credentials import connect
from tests.support.faulty import refuse
from tests.support.noop import echo
from tests.support.services import ROOT, profile_env, wait_for

pytestmark = pytest.mark.integration


def _secret(kind: str) -> str:
    return f"{kind}-{uuid.uuid4().hex[:12]}"


@contextmanager
def task_events(app: Organism) -> Iterator[list[dict[str, Any]]]:
    """Every task event the workers send while the block runs, as Flower would receive it."""
    received: list[dict[str, Any]] = []
    with app.connection_for_read() as connection:
        receiver = app.events.Receiver(connection, handlers={"*": received.append})
        listening = threading.Thread(target=receiver.capture, kwargs={"limit": None}, daemon=True)
        listening.start()

        def probe() -> bool:  # events sent before the receiver's queue exists are not seen
            app.control.enable_events()  # as Flower does: workers send task events only once a monitor asks
            sent = echo.delay(1)
            sent.get(timeout=10)
            return any(event.get("uuid") == sent.id for event in received)

        try:
            wait_for(probe, 30, "the event receiver to see a task", interval_s=0.5)
            yield received
        finally:
            receiver.should_stop = True
            listening.join(10)


def _of(events: list[dict[str, Any]], task_id: str) -> dict[str, dict[str, Any]]:
    return {event["type"]: event for event in list(events) if event.get("uuid") == task_id}


def _worker_log(cluster: Cluster) -> Path:
    return cluster.workers.log_dir / "worker-perception.log"


def _logged(cluster: Cluster, needle: str) -> str:
    """The worker log once it holds ``needle``."""
    return wait_for(lambda: needle in (text := _worker_log(cluster).read_text(errors="replace")) and text, 20,
                    f"{needle!r} in the perception worker's log")


def test_a_call_handed_secrets_leaves_none_in_the_log_the_result_backend_the_events_or_its_dead_letter(
        production: Cluster) -> None:
    password, api_key = _secret("pw"), _secret("key")
    url = f"amqp://bot:{password}@broker.example:5672/vhost"
    shown_url = "amqp://bot:***@broker.example:5672/vhost"

    with task_events(production.app) as events:
        ok = connect.delay(url, api_key=api_key)
        assert ok.get(timeout=20) == {"host": "broker.example", "session": f"Bearer {api_key[::-1]}"}
        failed = connect.delay(url, api_key=api_key, fail=True)
        with pytest.raises(PermanentError) as raised:
            failed.get(timeout=20)
        wait_for(lambda: "task-succeeded" in _of(events, ok.id) and "task-failed" in _of(events, failed.id), 20,
                 "the succeeded and failed events")

    # The failure the caller sees, the stored results and the events: arguments and errors redacted.
    assert str(raised.value) == f"cannot reach {shown_url} with api_key=***"
    results = redis.Redis.from_url(production.settings.results)
    stored = {task_id: results.get(f"celery-task-meta-{task_id}") for task_id in (ok.id, failed.id)}
    for raw in stored.values():
        assert raw is not None and password.encode() not in raw and api_key.encode() not in raw
    meta = json.loads(stored[ok.id])  # type: ignore[arg-type]
    assert meta["args"] == [shown_url] and meta["kwargs"] == {"api_key": "***"}
    assert meta["result"]["session"] == f"Bearer {api_key[::-1]}", "the result value must stay intact"
    seen = {**_of(events, ok.id), **{f"failed {kind}": event for kind, event in _of(events, failed.id).items()}}
    shown = json.dumps(seen)
    assert password not in shown and api_key not in shown and api_key[::-1] not in shown
    assert seen["task-received"]["args"] == repr([shown_url])
    assert seen["task-received"]["kwargs"] == repr({"api_key": "***"})
    assert seen["task-succeeded"]["result"] == repr({"host": "broker.example", "session": "Bearer ***"})
    assert "api_key=***" in seen["failed task-failed"]["exception"]

    # The worker's log: the failure is there, redacted; the success line has no result.
    log = _logged(production, f"{ok.id}] succeeded in")
    log = _logged(production, failed.id)
    assert password not in log and api_key not in log and api_key[::-1] not in log
    success_line = next(line for line in log.splitlines() if f"{ok.id}] succeeded in" in line)
    assert success_line.rstrip().endswith("s"), success_line
    assert shown_url in log

    letter = wait_for(lambda: [d for d in dead_letters.find(production.settings.database, skill="test.connect")
                               if d.task_id == failed.id], 20, "the dead letter of the failed call")[0]
    assert password not in json.dumps(letter.__dict__, default=str) and shown_url in json.dumps(letter.args)


def test_a_huge_argument_writes_kilobytes_of_log(production: Cluster) -> None:
    log = _worker_log(production)
    before = log.stat().st_size
    huge = "x" * 2_000_000

    failed = refuse.delay(huge)
    with pytest.raises(Exception) as raised:
        failed.get(timeout=30)
    _logged(production, failed.id)
    probe = echo.delay(1)
    probe.get(timeout=10)
    _logged(production, f"{probe.id}] succeeded in")  # every line of the failure is written by now

    grown = log.stat().st_size - before
    assert grown < 100_000, f"one failure with a 2 MB argument wrote {grown} bytes of log"
    assert len(str(raised.value)) < 20_000 and "characters cut" in str(raised.value)


class _Tamper:
    """A stored "result" that creates ``marker`` when unpickled: stands for any code an attacker would run."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return open, (str(self.marker), "w")


@pytest.fixture(scope="module")
def logging_results(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """An embedded profile of its own, with one perception worker that logs results."""
    data_dir = tmp_path_factory.mktemp("secrets-embedded")
    env = profile_env("embedded", data_dir) | {"ORGANISM_OBSERVABILITY__LOG_RESULTS": "true"}
    settings = make_settings(env)
    store.migrate(settings.database)
    app = create_app(settings)
    with LocalWorkers(settings, env=env | {"PYTHONPATH": str(ROOT)}, log_dir=data_dir / "logs",
                      organs=["perception"]) as workers:
        yield Cluster("embedded", env, app, workers)


def test_results_are_logged_redacted_when_the_setting_asks(logging_results: Cluster) -> None:
    logging_results.app.set_current()
    api_key = _secret("key")

    sent = connect.delay(f"https://bot:{api_key}@api.example/v1", api_key=api_key)
    sent.get(timeout=30)

    log = _logged(logging_results, f"{sent.id}] succeeded in")
    line = next(line for line in log.splitlines() if f"{sent.id}] succeeded in" in line)
    assert line.endswith(": {'host': 'api.example', 'session': 'Bearer ***'}"), line
    assert api_key not in log and api_key[::-1] not in log


def test_a_tampered_row_in_results_sqlite_is_refused_and_never_unpickled(
        logging_results: Cluster, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    app = logging_results.app
    app.set_current()
    echo.delay(1).get(timeout=30)  # results.sqlite as the worker writes it
    results_file = logging_results.settings.data_dir / "results.sqlite"
    assert results_file.is_file()
    marker, task_id = tmp_path / "ran", str(uuid.uuid4())
    with create_engine(f"sqlite:///{results_file}").begin() as connection:
        connection.execute(text("INSERT INTO celery_taskmeta (task_id, status, result) VALUES (:id, 'SUCCESS', :r)"),
                           {"id": task_id, "r": pickle.dumps(_Tamper(marker), protocol=4)})

    with caplog.at_level(logging.ERROR, logger="organism.brokers.results"):
        with pytest.raises(RefusedResult, match=f"refused the stored result of task {task_id}: it is not json"):
            AsyncResult(task_id, app=app).state  # noqa: B018 (reading it is the test)
        with pytest.raises(RefusedResult):
            AsyncResult(task_id, app=app).result  # noqa: B018

    assert not marker.exists(), "the tampered result ran code"
    assert [r.getMessage() for r in caplog.records if task_id in r.getMessage()], "the refusal was not logged"
    # The same row read by Celery's own database backend runs the payload: the test plants a real threat.
    DatabaseBackend(app=app, url=app.backend.url).get_task_meta(task_id)
    assert marker.exists()


def test_the_redis_result_backend_refuses_the_same_payload(production: Cluster, tmp_path: Path,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    marker, task_id = tmp_path / "ran", str(uuid.uuid4())
    results = redis.Redis.from_url(production.settings.results)
    results.set(f"celery-task-meta-{task_id}", pickle.dumps(_Tamper(marker), protocol=4), ex=600)

    with (caplog.at_level(logging.ERROR, logger="organism.brokers.results"),
          pytest.raises(RefusedResult, match=f"refused the stored result of task {task_id}: it is not json")):
        AsyncResult(task_id, app=production.app).state  # noqa: B018

    assert not marker.exists(), "the tampered result ran code"
    assert any(task_id in r.getMessage() for r in caplog.records), "the refusal was not logged"
