"""Calls with a time to live, on every broker: one that waits past it for a worker is not run, leaves one dead letter
(reason ``expired``, when it expired and how late the worker was) and its message on the dead-letter queue; in a
run, it fails its node and the run.

The organ's worker is stopped while the calls wait, and started again once their time to live has passed.
"""

from __future__ import annotations

import re
import time
import uuid
from datetime import datetime

import pytest
import redis
from celery.result import AsyncResult

from organism.failures import dead_letters
from organism.store.models import DeadLetter, Run
from organism.workflows.queries import find_run
from organism.workflows.start import start
from tests.conftest import Cluster
from tests.support.dead_queue import drain, task_id
from tests.support.faulty import SIDE_EFFECTS
from tests.support.held_organ import organ_held
from tests.support.queued import BRIEF_S, EXPIRING_SYNC, ORGAN, brief_mark, mark
from tests.support.services import finished_run, wait_for

pytestmark = pytest.mark.integration
EXPIRED = re.compile(r"^(?P<skill>\S+) expired at (?P<at>\S+Z), (?P<late>[\d.]+) s before a worker took it$")
MARGIN_S = 0.5  # how long after the calls' expiry the worker starts


def _letter(cluster: Cluster, task: str) -> DeadLetter:
    def found() -> DeadLetter | None:
        return next((letter for letter in dead_letters.find(cluster.settings.database, status=None)
                     if letter.task_id == task), None)

    letter = wait_for(found, 30, f"the dead letter of {task}")
    assert letter is not None
    return letter


def _run(cluster: Cluster, run_id: str) -> Run:
    run = find_run(cluster.settings.database, run_id)
    assert run is not None, f"run {run_id} is not in the store"
    return run


def _past(moment: float) -> None:
    """Wait until the wall clock has passed ``moment`` (epoch seconds): the calls' expiry, which no event marks."""
    wait_for(lambda: time.time() > moment, moment - time.time() + 5, "the calls' time to live to pass")


def test_a_call_past_its_time_to_live_is_not_run_and_leaves_an_expired_dead_letter(cluster: Cluster) -> None:
    key = f"expiry:{uuid.uuid4()}"
    ran = redis.Redis.from_url(SIDE_EFFECTS, decode_responses=True)
    with organ_held(cluster, ORGAN) as serve:
        sent_at = time.time()
        by_call = mark.apply_async((key, "expired by the call"), ttl_s=BRIEF_S)
        by_skill = brief_mark.delay(key, "expired by its skill")  # the skill declares ttl_s=BRIEF_S
        kept = brief_mark.apply_async((key, "kept"), ttl_s=300)  # the call's time to live over the skill's
        _past(time.time() + BRIEF_S + MARGIN_S)
        with serve():
            wait_for(lambda: "kept" in ran.lrange(key, 0, -1), 60, "the call within its time to live to run")
            letters = {call.id: _letter(cluster, call.id) for call in (by_call, by_skill)}
    assert ran.lrange(key, 0, -1) == ["kept"], "an expired call ran"
    ran.delete(key)

    for call, letter in zip((by_call, by_skill), letters.values(), strict=True):
        assert (letter.reason, letter.error_type) == ("expired", "Expired")
        said = EXPIRED.match(letter.error_message)
        assert said is not None, letter.error_message
        expired_at = datetime.fromisoformat(said["at"]).timestamp()
        assert sent_at + BRIEF_S - 0.01 <= expired_at <= sent_at + BRIEF_S + 5, "not the call's own expiry"
        assert float(said["late"]) >= MARGIN_S, "the worker started only after the calls had expired"
        assert AsyncResult(call.id, app=cluster.app).state == "REVOKED"
    assert dead_letters.count(cluster.settings.database, status=None, skill="test.mark") == 1, "one letter per call"
    assert AsyncResult(kept.id, app=cluster.app).state == "SUCCESS"
    on_dead_queue = {task_id(*message) for message in drain(cluster.app)}
    assert {by_call.id, by_skill.id} <= on_dead_queue, "the expired messages are not on the dead-letter queue"


def test_an_expired_node_fails_its_node_and_its_run(cluster: Cluster) -> None:
    with organ_held(cluster, ORGAN) as serve:  # the workflow's brief scan waits on this organ's queue
        started = start(cluster.app, EXPIRING_SYNC, {"date": "2026-12-06"})
        brief = next(n.task_id for n in _run(cluster, started.run_id).nodes if n.name == "q4.brief")
        _past(time.time() + BRIEF_S + MARGIN_S)
        with serve():
            finished_run(cluster.settings.database, started.run_id, 90)  # the chord's errback may fail it first
            letter = _letter(cluster, brief)  # written in one transaction with the node's failure

    run = _run(cluster, started.run_id)
    assert run.status == "failed", run.error
    nodes = {node.name: node for node in run.nodes}
    assert nodes["q4.brief"].status == "failed" and "expired at" in (nodes["q4.brief"].error or "")
    assert {name: nodes[name].status for name in ("q1.scan", "q2.scan", "q3.scan")} == dict.fromkeys(
        ("q1.scan", "q2.scan", "q3.scan"), "succeeded")
    assert (letter.reason, letter.node, letter.run_id) == ("expired", "q4.brief", run.id)
    assert dead_letters.count(cluster.settings.database, status=None, run=run.id) == 1
