"""An I/O-bound organ's time limits, held on a threads pool by the worker's watchdog (organism.failures.thread_limits).

The judgment worker here is declared I/O-bound (``bound = "io"``: a threads pool, two threads) with limits of 2 s
and 4 s, set as a deployment sets them (``ORGANISM_WORKERS__JUDGMENT__*`` in the worker's environment), on
RabbitMQ in a vhost of its own. A thread can be neither interrupted by a signal nor killed: the soft limit is raised
in the skill's thread, and a call still running at the hard limit is settled and its thread abandoned.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from celery.result import AsyncResult

from devtools.fake_model import spawn
from organism import store
from organism.app import Organism, create_app
from organism.errors import SkillTimeout
from organism.failures import dead_letters
from organism.local import LocalWorkers
from organism.store.models import DeadLetter
from tests.conftest import make_settings
from tests.support.faulty import SIDE_EFFECTS
from tests.support.services import ROOT, TEST_MODULES, ensure_services, own_rabbit_vhost, profile_env, wait_for

pytestmark = pytest.mark.integration
VHOST = f"organism_io_limits_{os.getpid()}"
WORKER_ENV = {f"ORGANISM_WORKERS__JUDGMENT__{name}": value for name, value in
              {"BOUND": "io", "CONCURRENCY": "2", "SOFT_TIME_LIMIT_S": "2", "TIME_LIMIT_S": "4"}.items()}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Organism]:
    """The sending app (default limits) and, while the module runs, the judgment worker (its own limits)."""
    ensure_services()
    data_dir: Path = tmp_path_factory.mktemp("io-limits")
    env = profile_env("production", data_dir) | {
        "ORGANISM_BROKER_URL": f"amqp://guest:guest@127.0.0.1:5672/{VHOST}",
        "ORGANISM_DATABASE_URL": f"sqlite:///{data_dir}/organism.sqlite",
        "ORGANISM_TASK_MODULES": json.dumps([*json.loads(TEST_MODULES), "tests.support.io_limits"]),
        "PYTHONPATH": str(ROOT)}
    with own_rabbit_vhost(VHOST, "the I/O organ limit tests"):
        sender = make_settings(env)
        store.migrate(sender.database)
        app = create_app(sender)
        app.set_current()
        app.set_default()
        app.loader.import_default_modules()  # the skills are known here, so each call goes to its organ's queue
        worker_settings = make_settings(env | WORKER_ENV)
        assert worker_settings.worker("judgment").pool == "threads"
        with LocalWorkers(worker_settings, env=env | WORKER_ENV, log_dir=data_dir / "logs",
                          organs=["judgment"]) as workers:
            first = send(app, "test.io.partial")
            wait_for(lambda: first.ready() or workers.dead(), 60, "the judgment worker to answer")
            assert not workers.dead(), workers.log_tail("judgment")
            yield app


@pytest.fixture
def marker() -> str:
    return uuid.uuid4().hex


@pytest.fixture
def slow_server() -> Iterator[str]:
    """A model server that answers after 30 s."""
    process, url = spawn("--latency-ms", "30000")
    try:
        yield url
    finally:
        process.terminate()
        process.wait()


def send(app: Organism, name: str, **kwargs: object) -> AsyncResult:
    """Call the skill ``name`` as a user does (its organ's queue, from the skill's declaration)."""
    return app.tasks[name].apply_async(kwargs=kwargs)


def noted(marker: str, what: str) -> int:
    return int(redis.Redis.from_url(SIDE_EFFECTS).llen(f"{marker}:{what}"))


def letter_of(app: Organism, task_id: str) -> DeadLetter:
    found = wait_for(lambda: [d for d in dead_letters.find(app.settings.database) if d.task_id == task_id], 20,
                     f"the dead letter of {task_id}")
    return found[0]


def test_a_call_waiting_on_a_slow_server_ends_at_the_soft_limit_with_a_timeout(
        app: Organism, marker: str, slow_server: str) -> None:
    call = send(app, "test.io.ask", base_url=slow_server, marker=marker)

    text = "soft time limit of 2 s exceeded (organ judgment)"
    with pytest.raises(SkillTimeout, match=rf"^{text}$".replace("(", r"\(").replace(")", r"\)")):
        call.get(timeout=60)

    letter = letter_of(app, call.id)
    assert (letter.reason, letter.error_type, letter.error_message) == ("exhausted", "SkillTimeout", text)
    assert [(a["action"], a["error"]) for a in letter.attempts] == [("retry", f"SkillTimeout: {text}")] * 2
    assert noted(marker, "asked") == 2


def test_a_call_that_ignores_its_soft_limit_is_settled_at_the_hard_limit_and_what_it_returns_later_is_dropped(
        app: Organism, marker: str) -> None:
    call = send(app, "test.io.stubborn", marker=marker, seconds=6)

    text = "hard time limit of 4 s exceeded (organ judgment); its thread was abandoned"
    with pytest.raises(SkillTimeout, match=rf"^{text}$".replace("(", r"\(").replace(")", r"\)")):
        call.get(timeout=60)

    letter = letter_of(app, call.id)
    assert (letter.reason, letter.error_message) == ("exhausted", text)
    assert [(a["action"], a["error"]) for a in letter.attempts] == [("retry", f"SkillTimeout: {text}")] * 2
    # Both attempts' threads were interrupted at 2 s, worked on, and returned at 6 s, after their calls were settled:
    # the late returns changed nothing.
    wait_for(lambda: noted(marker, "ended") == 2, 30, "both abandoned threads to return")
    assert noted(marker, "interrupted") == 2
    assert AsyncResult(call.id, app=app).state == "FAILURE"
    assert [d.task_id for d in dead_letters.find(app.settings.database, skill="test.io.stubborn")].count(call.id) == 1


def test_a_call_that_catches_its_soft_limit_and_returns_keeps_its_result(app: Organism) -> None:
    assert send(app, "test.io.partial").get(timeout=30) == "partial"
