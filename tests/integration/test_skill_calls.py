"""Skill calls as a user sees them: validated arguments, routing by organ."""

from __future__ import annotations

import pytest
from celery.exceptions import TimeoutError as CeleryTimeout

from tests.conftest import Cluster
from tests.support.noop import echo, where

pytestmark = pytest.mark.integration


def test_valid_arguments_are_coerced_and_run_on_the_organ_queue(production: Cluster) -> None:
    result = echo.apply_async(args=("41",), kwargs={"label": "ok"}).get(timeout=20)
    assert result == {"value": 41, "label": "ok", "queue": "perception"}


def test_bad_arguments_fail_once_with_a_clear_message(production: Cluster) -> None:
    outcome = echo.apply_async(args=("forty-one",))

    with pytest.raises(Exception) as raised:
        outcome.get(timeout=20)

    assert type(raised.value).__name__ == "InvalidArguments"
    assert str(raised.value) == ("test.echo: invalid arguments: value: Input should be a valid integer, "
                                 "unable to parse string as an integer (got 'forty-one')")
    assert outcome.state == "FAILURE"
    assert outcome.retries in (0, None)


def test_wrong_arity_is_refused_before_the_message_is_sent(production: Cluster) -> None:
    with pytest.raises(TypeError, match="missing 1 required positional argument: 'value'"):
        echo.apply_async(args=())


@pytest.mark.parametrize("organ", ["perception", "judgment", "relationship", "evolution"])
def test_each_organ_skill_runs_only_on_that_organs_worker(production: Cluster, organ: str) -> None:
    hostnames = {where[organ].delay().get(timeout=20)["hostname"] for _ in range(6)}
    assert {h.split("@")[0] for h in hostnames} == {organ}


def test_a_skill_waits_while_no_worker_serves_its_organ(production: Cluster) -> None:
    production.workers.processes["judgment"].terminate()
    production.workers.processes["judgment"].wait(20)
    try:
        pending = where["judgment"].delay()
        with pytest.raises(CeleryTimeout):
            pending.get(timeout=3)
        assert pending.state == "PENDING"
        production.workers.start("judgment")
        assert pending.get(timeout=30)["hostname"].startswith("judgment@")
    finally:
        if production.workers.processes["judgment"].poll() is not None:
            production.workers.start("judgment")
