"""The Redis result backend stores a state in one round trip and still never overwrites a stored success."""

from __future__ import annotations

import pickle
import threading
import uuid
from pathlib import Path

import pytest
import redis
from celery import states
from celery.result import AsyncResult

from organism.brokers.results import RefusedResult
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
