"""Each organ's worker limits, held by real worker processes on RabbitMQ: a child that leaks past its organ's memory
limit is replaced, and a skill past its organ's soft or hard time limit fails with the limit named, retried or
dead-lettered by its failure class.

The perception worker here has one child, a 450 MB memory limit and time limits of 2 s and 4 s, set as a deployment
sets them (``ORGANISM_WORKERS__PERCEPTION__*`` in the worker's environment). The test process sends with the default
limits: the worker's own settings decide.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator

import pytest
import redis
from celery.result import AsyncResult

from organism import store
from organism.app import Organism, create_app
from organism.errors import SkillTimeout
from organism.failures import dead_letters
from organism.local import LocalWorkers
from organism.settings import Settings
from organism.store.models import DeadLetter
from tests.conftest import make_settings
from tests.support.faulty import SIDE_EFFECTS
from tests.support.services import (
    ROOT,
    TEST_MODULES,
    ensure_services,
    fresh_pg_database,
    own_rabbit_vhost,
    profile_env,
    wait_for,
)

pytestmark = pytest.mark.integration
VHOST = f"organism_limits_{os.getpid()}"
DATABASE = "organism_limits"
LIMITS = {"CONCURRENCY": "1", "MAX_MEMORY_PER_CHILD_MB": "450", "SOFT_TIME_LIMIT_S": "2", "TIME_LIMIT_S": "4"}
WORKER_ENV = {f"ORGANISM_WORKERS__PERCEPTION__{name}": value for name, value in LIMITS.items()}


class Limited:
    """The sending app (default limits) and the perception worker's settings (its own limits)."""

    def __init__(self, app: Organism, worker_settings: Settings) -> None:
        self.app = app
        self.worker_settings = worker_settings

    def send(self, name: str, **kwargs: object) -> AsyncResult:
        return self.app.send_task(name, kwargs=kwargs)

    def letter(self, task_id: str) -> DeadLetter:
        database = self.app.settings.database
        found = wait_for(lambda: [letter for letter in dead_letters.find(database) if letter.task_id == task_id],
                         20, f"the dead letter of {task_id}")
        return found[0]


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Limited]:
    ensure_services()
    fresh_pg_database(DATABASE)
    data_dir = tmp_path_factory.mktemp("limits")
    env = profile_env("production", data_dir) | {
        "ORGANISM_BROKER_URL": f"amqp://guest:guest@127.0.0.1:5672/{VHOST}",
        "ORGANISM_DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:5432/{DATABASE}",
        "ORGANISM_TASK_MODULES": json.dumps([*json.loads(TEST_MODULES), "tests.support.limits"]),
    }
    with own_rabbit_vhost(VHOST, "the organ limit tests"):
        sender = make_settings(env)
        store.migrate(sender.database)
        worker_settings = make_settings(env | WORKER_ENV)
        app = create_app(sender)
        with LocalWorkers(worker_settings, env=env | WORKER_ENV | {"PYTHONPATH": str(ROOT)},
                          log_dir=data_dir / "logs", organs=["perception"]) as workers:
            first = app.send_task("test.leak", kwargs={"mb": 0})
            wait_for(lambda: first.ready() or workers.dead(), 60, "the perception worker to answer")
            assert not workers.dead(), workers.log_tail("perception")
            yield Limited(app, worker_settings)


@pytest.fixture
def marker() -> str:
    return uuid.uuid4().hex


def attempt_pids(marker: str) -> list[int]:
    return [int(pid) for pid in redis.Redis.from_url(SIDE_EFFECTS).lrange(f"overrun:{marker}", 0, -1)]


def test_the_sender_holds_other_limits_than_the_worker(limited: Limited) -> None:
    sender = limited.app.settings.worker("perception")
    worker = limited.worker_settings.worker("perception")

    assert (sender.soft_time_limit_s, sender.time_limit_s) != (2, 4)  # what the tests below see is the worker's
    assert (worker.concurrency, worker.max_memory_per_child_mb, worker.soft_time_limit_s, worker.time_limit_s) == (
        1, 450, 2, 4)


def test_a_child_leaking_past_its_organs_memory_limit_is_replaced_and_the_queue_keeps_draining(
        limited: Limited) -> None:
    limited.app.set_current()
    calls = [limited.send("test.leak", mb=100) for _ in range(6)]

    ran = [call.get(timeout=60) for call in calls]

    # One child at a time, each keeping 100 MB more per call (a child starts near 230 MB here): past 450 MB it is
    # replaced after its task, so no call starts in a child already past the limit, and six calls need several
    # children. Without the limit, one child runs them all, its peak growing by 100 MB a call.
    assert len({r["pid"] for r in ran}) >= 2, ran
    assert [r for r in ran if r["peak_before_mb"] >= 450] == [], ran


def test_past_the_soft_limit_a_skill_fails_with_the_limit_named_and_is_retried_then_dead_lettered(
        limited: Limited, marker: str) -> None:
    call = limited.send("test.overrun", marker=marker, seconds=30)

    with pytest.raises(SkillTimeout, match=r"^soft time limit of 2 s exceeded \(organ perception\)$"):
        call.get(timeout=60)

    letter = limited.letter(call.id)
    error = "SkillTimeout: soft time limit of 2 s exceeded (organ perception)"
    assert (letter.reason, letter.error_type, letter.error_message) == (
        "exhausted", "SkillTimeout", "soft time limit of 2 s exceeded (organ perception)")
    assert [(a["action"], a["error"]) for a in letter.attempts] == [("retry", error)] * 2
    assert len(attempt_pids(marker)) == 2


def test_a_skill_that_declares_a_timeout_permanent_is_dead_lettered_at_once(limited: Limited, marker: str) -> None:
    call = limited.send("test.overrun_hopeless", marker=marker, seconds=30)

    with pytest.raises(SkillTimeout, match=r"^soft time limit of 2 s exceeded \(organ perception\)$"):
        call.get(timeout=60)

    letter = limited.letter(call.id)
    assert letter.reason == "permanent"
    assert [(a["action"], a["error"]) for a in letter.attempts] == [
        ("dead", "SkillTimeout: soft time limit of 2 s exceeded (organ perception)")]
    assert len(attempt_pids(marker)) == 1


def test_past_the_hard_limit_the_child_is_killed_and_the_call_retried_then_dead_lettered(
        limited: Limited, marker: str) -> None:
    call = limited.send("test.overrun", marker=marker, seconds=30, ignore_soft_limit=True)

    text = "hard time limit of 4 s exceeded (organ perception); its process was killed"
    with pytest.raises(SkillTimeout, match=rf"^{text}$".replace("(", r"\(").replace(")", r"\)")):
        call.get(timeout=60)

    letter = limited.letter(call.id)
    assert (letter.reason, letter.error_type, letter.error_message) == ("exhausted", "SkillTimeout", text)
    assert [(a["action"], a["error"]) for a in letter.attempts] == [("retry", f"SkillTimeout: {text}")] * 2
    first, second = attempt_pids(marker)
    assert first != second, "the retry ran in the child the hard limit killed"
    assert limited.send("test.leak", mb=0).get(timeout=30)["pid"] not in (first, second)


def test_past_the_hard_limit_a_skill_that_declares_a_timeout_permanent_is_dead_lettered_at_once(
        limited: Limited, marker: str) -> None:
    call = limited.send("test.overrun_hopeless", marker=marker, seconds=30, ignore_soft_limit=True)

    with pytest.raises(SkillTimeout, match=r"^hard time limit of 4 s exceeded \(organ perception\)"):
        call.get(timeout=60)

    letter = limited.letter(call.id)
    assert letter.reason == "permanent" and len(letter.attempts) == 1
    assert len(attempt_pids(marker)) == 1
