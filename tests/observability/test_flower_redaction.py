"""Flower, fed by live workers, shows a call's arguments, result and error redacted."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from organism.errors import PermanentError
from tests.conftest import Cluster
from tests.observability.servers import AUTH, accounts, serving
from tests.support.credentials import connect
from tests.support.noop import echo
from tests.support.services import wait_for

pytestmark = pytest.mark.integration


def test_flower_shows_arguments_results_and_errors_without_their_secrets(production: Cluster, tmp_path: Path) -> None:
    password, api_key = f"pw-{uuid.uuid4().hex[:12]}", f"key-{uuid.uuid4().hex[:12]}"
    url = f"redis://:{password}@cache.example:6379/0"
    with serving("flower", accounts(production.env), tmp_path / "flower.log") as flower:
        def info(task_id: str) -> dict[str, object] | None:
            found = flower.get(f"/api/task/info/{task_id}", auth=AUTH)
            return found.json() if found.status_code == 200 else None

        def probe() -> bool:  # Flower sees only events sent after it subscribed
            sent = echo.delay(1)
            sent.get(timeout=10)
            return info(sent.id) is not None

        wait_for(probe, 30, "Flower to receive task events", interval_s=1)
        ok = connect.delay(url, api_key=api_key)
        ok.get(timeout=20)
        failed = connect.delay(url, api_key=api_key, fail=True)
        with pytest.raises(PermanentError):
            failed.get(timeout=20)

        succeeded = wait_for(lambda: (found := info(ok.id)) and found.get("state") == "SUCCESS" and found, 20,
                             "Flower to see the call succeed")
        failure = wait_for(lambda: (found := info(failed.id)) and found.get("state") == "FAILURE" and found, 20,
                           "Flower to see the call fail")
        listed = flower.get("/api/tasks", auth=AUTH).text

    assert succeeded["args"] == "['redis://:***@cache.example:6379/0']"
    assert succeeded["kwargs"] == "{'api_key': '***'}"
    assert succeeded["result"] == "{'host': 'cache.example', 'session': 'Bearer ***'}"
    assert "api_key=***" in str(failure["exception"]) and "redis://:***@cache.example" in str(failure["traceback"])
    for shown in (str(succeeded), str(failure), listed):
        assert password not in shown and api_key not in shown and api_key[::-1] not in shown
