"""The Redis result backend stores a state in one round trip and still never overwrites a stored success; a
cancelled node is marked there, and read from there by the worker that takes it."""

from __future__ import annotations

import logging
import pickle
import threading
import uuid
from pathlib import Path

import pytest
import redis
from celery import states
from celery.result import AsyncResult, ResultSet

from organism.brokers.results import RefusedResult
from organism.workflows import tracking
from tests.conftest import Cluster
from tests.integration.test_secrets import _Tamper

pytestmark = pytest.mark.integration


def _key(task_id: str) -> str:
    return f"celery-task-meta-{task_id}"


def test_a_late_duplicate_cannot_overwrite_a_stored_success(production: Cluster) -> None:
    backend, task_id = production.app.backend, str(uuid.uuid4())
    backend.store_result(task_id, {"answer": 42}, states.SUCCESS)
    backend.store_result(task_id, RuntimeError("a redelivered copy failed"), states.FAILURE)
    backend.store_result(task_id, None, states.STARTED)

    result = AsyncResult(task_id, app=production.app)
    assert (result.state, result.result) == (states.SUCCESS, {"answer": 42})


def test_a_failure_after_a_retry_is_stored_with_the_result_expiry(production: Cluster) -> None:
    backend, task_id = production.app.backend, str(uuid.uuid4())
    backend.store_result(task_id, None, states.RETRY)
    backend.store_result(task_id, RuntimeError("gave up"), states.FAILURE)

    assert AsyncResult(task_id, app=production.app).state == states.FAILURE
    ttl = redis.Redis.from_url(production.settings.results).ttl(_key(task_id))
    assert 0 < ttl <= production.app.backend.expires


def test_a_waiting_caller_is_told_as_the_state_is_stored(production: Cluster) -> None:
    task_id = str(uuid.uuid4())
    result = AsyncResult(task_id, app=production.app)
    # stored after the caller has begun to wait: it hears of it from the stored state's announcement alone
    threading.Timer(0.5, production.app.backend.store_result, (task_id, "done", states.SUCCESS)).start()

    assert result.get(timeout=10) == "done"


def test_storing_over_an_entry_the_serializer_cannot_read_is_refused(production: Cluster, tmp_path: Path) -> None:
    marker, task_id = tmp_path / "ran", str(uuid.uuid4())
    redis.Redis.from_url(production.settings.results).set(_key(task_id), pickle.dumps(_Tamper(marker), protocol=4),
                                                          ex=600)

    with pytest.raises(RefusedResult, match=f"refused the stored result of task {task_id}: it is not json"):
        production.app.backend.store_result(task_id, "overwritten?", states.SUCCESS)
    assert not marker.exists(), "the tampered entry ran code"


def test_a_node_whose_stored_result_cannot_be_read_is_run_with_a_warning(production: Cluster, tmp_path: Path,
                                                                         caplog: pytest.LogCaptureFixture) -> None:
    marker, task_id = tmp_path / "ran", str(uuid.uuid4())
    redis.Redis.from_url(production.settings.results).set(_key(task_id), pickle.dumps(_Tamper(marker), protocol=4),
                                                          ex=600)

    with caplog.at_level(logging.WARNING, logger="organism.workflows.tracking"):
        assert tracking.node_cancelled(production.app, task_id) is False
    assert any(f"could not read whether node {task_id} was cancelled" in r.getMessage() for r in caplog.records)
    assert not marker.exists(), "the tampered entry ran code"


def test_cancel_marks_only_the_nodes_without_a_result(production: Cluster) -> None:
    backend, done, queued = production.app.backend, str(uuid.uuid4()), str(uuid.uuid4())
    backend.store_result(done, {"ok": 1}, states.SUCCESS)

    tracking.mark_cancelled(production.app, [done, queued], "cancelled by the test")

    assert backend.get_task_meta(done, cache=False)["status"] == states.SUCCESS
    assert tracking.node_cancelled(production.app, queued) and not tracking.node_cancelled(production.app, done)



def test_announcements_that_arrive_together_all_reach_the_caller_waiting_for_them(production: Cluster) -> None:
    app, ids = production.app, [str(uuid.uuid4()) for _ in range(300)]
    results = ResultSet([AsyncResult(task_id, app=app) for task_id in ids], app=app)
    for result in results.results:
        app.backend.add_pending_result(result)  # subscribed, as apply_async does for the caller
    announcements = redis.Redis.from_url(production.settings.results).pipeline(transaction=False)
    for i, task_id in enumerate(ids):  # only announced, not stored: the caller learns of each from its message
        meta = {**app.backend._get_result_meta(result=i, state=states.SUCCESS, traceback=None, request=None),
                "task_id": task_id}
        announcements.publish(app.backend.get_key_for_task(task_id), app.backend.encode(meta))
    threading.Timer(0.3, announcements.execute).start()  # one burst, while the caller waits

    assert results.get(timeout=20, interval=0.01) == list(range(300))
