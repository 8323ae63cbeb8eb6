"""Failure handling on real brokers: backoff, Retry-After, dead letters, replay, poison messages; one dead letter
for every failure, whatever its error, arguments or headers hold."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from kombu import Queue
from kombu.exceptions import ContentDisallowed, DecodeError
from sqlalchemy import select

from organism import store
from organism.brokers.queues import DEAD_LETTER_EXCHANGE, DEAD_LETTER_QUEUE
from organism.failures import dead_letters
from organism.failures.replay import ReplayRefused, replay
from organism.failures.retry import RETRY_HEADER, RetryPolicy
from organism.headers import RUN_HEADER
from organism.skill import ATTEMPTS_HEADER
from organism.store.models import Attempt, DeadLetter
from tests.conftest import Cluster, Clusters
from tests.support.faulty import SIDE_EFFECTS, crash, fail_with, fetch, refuse
from tests.support.http import Script, scripted_server
from tests.support.noop import echo
from tests.support.services import wait_for

pytestmark = pytest.mark.integration


@pytest.fixture(params=["production", "redis"])
def broker(request: pytest.FixtureRequest, clusters: Clusters) -> Cluster:
    chosen = clusters[request.param]
    chosen.clean()
    drain_dead_queue(chosen)
    return chosen


@pytest.fixture
def server() -> Iterator[tuple[str, Script]]:
    with scripted_server() as served:
        yield served


def drain_dead_queue(cluster: Cluster) -> list[tuple[dict, dict]]:  # type: ignore[type-arg]
    """Take every message off the dead-letter queue: (headers, body) each."""
    taken = []
    with cluster.app.connection_for_read() as connection:
        queue = Queue(DEAD_LETTER_QUEUE, DEAD_LETTER_EXCHANGE, routing_key="perception")(connection.default_channel)
        while (message := queue.get(no_ack=True, accept=["json", "pickle"])) is not None:
            try:  # the dead-letter queue also holds the bad messages other tests sent on purpose
                taken.append((message.headers, message.decode()))
            except (ContentDisallowed, DecodeError):
                taken.append((message.headers, None))
    return taken


def letters(cluster: Cluster, **filters: object) -> list[DeadLetter]:
    return dead_letters.find(cluster.settings.database, status=None, **filters)  # type: ignore[arg-type]


def test_429_with_retry_after_waits_as_long_as_the_server_says(broker: Cluster, server: tuple[str, Script]) -> None:
    url, script = server
    script.answer("/limited", (429, {"Retry-After": "1"}), (429, {"Retry-After": "1"}), (200, {}))

    call = fetch.delay(f"{url}/limited")
    assert call.get(timeout=30) == {"ok": True}

    gaps = script.gaps_s("/limited")
    assert len(gaps) == 2 and all(0.95 <= gap <= 1.8 for gap in gaps), gaps
    assert letters(broker) == []
    with store.session(broker.settings.database) as s:  # a call that got through keeps no failed attempts
        assert s.scalars(select(Attempt).where(Attempt.task_id == call.id)).all() == []


def test_a_server_that_fails_forever_gets_2_4_8_s_backoff_then_one_dead_letter(
        broker: Cluster, server: tuple[str, Script]) -> None:
    url, script = server
    script.answer("/down", (500, {}))

    outcome = fetch.delay(f"{url}/down")
    with pytest.raises(Exception, match="500 Server Error"):
        outcome.get(timeout=40)

    gaps = script.gaps_s("/down")
    assert len(gaps) == 3, gaps
    for gap, nominal in zip(gaps, (2, 4, 8), strict=True):
        assert nominal * 0.9 <= gap <= nominal * 1.1 + 0.6, gaps
    assert outcome.state == "FAILURE"
    [letter] = wait_for(lambda: letters(broker), 10, "the dead letter")
    assert (letter.task_id, letter.task_name, letter.organ, letter.reason) == (outcome.id, "test.fetch",
                                                                               "perception", "exhausted")
    assert [a["action"] for a in letter.attempts] == ["retry"] * 4
    assert "500 Server Error" in letter.error_message and "raise_for_status" in (letter.traceback or "")
    assert letter.args == [f"{url}/down"]
    [(headers, body)] = wait_for(lambda: drain_dead_queue(broker), 10, "the message on the dead-letter queue")
    if broker.profile == "production":  # RabbitMQ moved the message itself
        assert headers["x-death"][0]["reason"] == "rejected" and headers["x-death"][0]["queue"] == "perception"
        assert headers["id"] == outcome.id
    else:  # Redis has no dead-letter exchange: the app published a copy
        assert body["id"] == outcome.id and body["x-death"][0]["reason"] == "exhausted"


def test_a_permanent_error_is_dead_lettered_at_once(broker: Cluster, server: tuple[str, Script]) -> None:
    url, script = server
    script.answer("/gone", (404, {}))

    with pytest.raises(Exception, match="404 Client Error"):
        fetch.delay(f"{url}/gone").get(timeout=20)

    assert len(script.arrivals["/gone"]) == 1
    [letter] = wait_for(lambda: letters(broker), 10, "the dead letter")
    assert letter.reason == "permanent" and len(letter.attempts) == 1


def test_replay_runs_the_call_again_once_however_often_it_is_asked(broker: Cluster, server: tuple[str, Script]) -> None:
    url, script = server
    script.answer("/flaky", (404, {}))
    with pytest.raises(Exception, match="404"):
        fetch.delay(f"{url}/flaky").get(timeout=20)
    [letter] = wait_for(lambda: letters(broker), 10, "the dead letter")
    script.answer("/flaky", (200, {}))

    first = replay(broker.app, letter.id).task_id
    second = replay(broker.app, letter.id)

    assert second.earlier and second.task_id == first
    assert broker.app.AsyncResult(first).get(timeout=20) == {"ok": True}
    assert len(script.arrivals["/flaky"]) == 1, "the replay reached the server more than once"
    [replayed] = letters(broker)
    assert (replayed.status, replayed.replayed_as) == ("replayed", first)


def test_replay_of_a_filtered_batch(broker: Cluster, server: tuple[str, Script]) -> None:
    url, script = server
    paths = [f"/batch/{n}" for n in range(3)]
    for path in paths:
        script.answer(path, (404, {}))
    outcomes = [fetch.delay(f"{url}{path}") for path in paths] + [refuse.delay("no")]
    for outcome in outcomes:
        with pytest.raises(Exception):  # noqa: B017 - each fails, by design
            outcome.get(timeout=20)
    wait_for(lambda: len(letters(broker)) == 4, 10, "four dead letters")
    for path in paths:
        script.answer(path, (200, {}))

    replayed = [replay(broker.app, letter.id).task_id for letter in dead_letters.find(
        broker.settings.database, skill="test.fetch")]

    assert [broker.app.AsyncResult(task_id).get(timeout=20) for task_id in replayed] == [{"ok": True}] * 3
    assert [letter.task_name for letter in dead_letters.find(broker.settings.database)] == ["test.refuse"]


def test_an_unsafe_skill_is_replayed_only_when_forced(broker: Cluster) -> None:
    marker = uuid.uuid4().hex
    crash.delay(marker)
    [letter] = wait_for(lambda: letters(broker, skill="test.crash"), 60, "the poison message's dead letter")

    with pytest.raises(ReplayRefused, match="declared unsafe"):
        replay(broker.app, letter.id)


def test_a_message_that_kills_its_worker_is_dead_lettered_after_the_delivery_cap(broker: Cluster) -> None:
    marker = uuid.uuid4().hex
    outcome = crash.delay(marker)

    [letter] = wait_for(lambda: letters(broker, skill="test.crash"), 60, "the poison message's dead letter")

    assert letter.reason == "poison" and letter.delivery_count == 4
    assert redis.Redis.from_url(SIDE_EFFECTS).llen(f"crash:{marker}") == broker.settings.max_deliveries
    # the dead letter is committed before Celery stores the failure, so the result may trail it a little
    wait_for(lambda: outcome.state == "FAILURE", 10, "the poison message's FAILURE result")


# -- whatever a failure holds, it leaves exactly one dead letter, and the worker goes on ---------------------------

def one_letter(cluster: Cluster, task_id: str, timeout_s: float = 30) -> DeadLetter:
    """The dead letter of ``task_id``, once a good call has gone through after it; it must be the only one."""
    pid = cluster.workers.processes["perception"].pid
    found = wait_for(lambda: [d for d in letters(cluster) if d.task_id == task_id], timeout_s, f"{task_id}'s letter")
    assert cluster.workers.dead() == [] and cluster.workers.processes["perception"].pid == pid, "a worker exited"
    assert echo.delay(7).get(timeout=20)["value"] == 7, "the worker stopped consuming"
    assert [d.task_id for d in letters(cluster)] == [task_id], "not exactly one dead letter"
    return found[0]


@pytest.mark.parametrize("bad", ["\x00", "\udc80"], ids=["nul", "lone-surrogate"])
def test_an_error_with_a_character_postgresql_refuses_is_recorded_escaped(broker: Cluster, bad: str) -> None:
    outcome = fail_with.delay(f"bad{bad}text")

    letter = one_letter(broker, outcome.id)

    shown = bad.encode("unicode_escape").decode()
    assert (letter.reason, letter.error_message, letter.args) == ("permanent", f"bad{shown}text", [f"bad{shown}text"])
    assert f"PermanentError: bad{shown}text" in (letter.traceback or "")
    assert not letter.replayable


@pytest.mark.parametrize(("text", "times"), [("x" * 4 * 2**20, 1), ("x", 10 * 2**20)],
                         ids=["4MB-argument", "10MB-error"])
def test_a_huge_error_that_is_retried_leaves_one_record_cut_to_size(broker: Cluster, text: str, times: int) -> None:
    outcome = fail_with.delay(text, times=times, transient=True)  # retried once, then exhausted

    letter = one_letter(broker, outcome.id, timeout_s=60)

    size = len(text) * times
    assert letter.reason == "exhausted" and [a["action"] for a in letter.attempts] == ["retry", "retry"]
    assert letter.error_message.endswith(f"…[truncated, {size} chars]") and len(letter.error_message) < 70_000
    assert all(len(a["error"]) < 1100 for a in letter.attempts)
    assert letter.args[0] == text or letter.args[0].endswith(f"…[truncated, {len(text)} chars]")
    if len(text) > broker.settings.dead_letter_max_chars:
        with pytest.raises(ReplayRefused, match="cut or escaped"):
            replay(broker.app, letter.id)


def test_many_quick_retries_keep_their_history_in_the_store_not_in_headers(broker: Cluster) -> None:
    # 80 retries of a 2 KB error: carried in headers, the history outgrew RabbitMQ's frame (131 KB)
    policy = RetryPolicy(max_retries=80, backoff_base_s=0, jitter=0)
    outcome = fail_with.apply_async(("e" * 2000,), {"transient": True}, headers=policy.as_header())

    letter = one_letter(broker, outcome.id, timeout_s=90)

    assert letter.reason == "exhausted" and [a["action"] for a in letter.attempts] == ["retry"] * 81
    assert letter.attempts[0]["error"].startswith("TransientError: eee")


@pytest.mark.parametrize("header", [{"max_retries": "x"}, {"retries": 5}, {"jitter": 7}, {"max_retries": None}])
def test_a_malformed_retry_header_falls_back_to_the_skills_policy(broker: Cluster, header: dict[str, Any]) -> None:
    outcome = fail_with.apply_async(("boom",), {"transient": True}, headers={RETRY_HEADER: header})

    letter = one_letter(broker, outcome.id)

    assert letter.reason == "exhausted" and len(letter.attempts) == 2, "the skill's policy is one retry"
    assert all(f"header {RETRY_HEADER}" in a["error"] and "ignored" in a["error"] for a in letter.attempts)
    log = (broker.workers.log_dir / "worker-perception.log").read_text(errors="replace")
    assert f"test.fail_with[{outcome.id}]: header {RETRY_HEADER}" in log


def test_a_malformed_attempts_header_is_counted_from_the_store(broker: Cluster) -> None:
    outcome = fail_with.apply_async(("boom",), {"transient": True}, headers={ATTEMPTS_HEADER: -5})

    letter = one_letter(broker, outcome.id)

    assert letter.reason == "exhausted" and [a["action"] for a in letter.attempts] == ["retry", "retry"]
    assert f"header {ATTEMPTS_HEADER}" in letter.attempts[0]["error"]


def test_an_attempts_header_that_is_no_count_is_refused_before_it_runs(broker: Cluster) -> None:
    outcome = fail_with.apply_async(("boom",), {"transient": True}, headers={ATTEMPTS_HEADER: ["an", "old", "list"]})

    letter = one_letter(broker, outcome.id)

    assert letter.reason == "malformed" and f"header {ATTEMPTS_HEADER} is list" in letter.error_message


@pytest.mark.parametrize("run", [5, ["a", "list"]])
def test_a_run_header_that_is_not_text_still_leaves_one_record(broker: Cluster, run: object) -> None:
    outcome = fail_with.apply_async(("boom",), headers={RUN_HEADER: run})

    letter = one_letter(broker, outcome.id)

    # the message checks (organism.failures.message_checks) refuse it before it runs; the skill would record it too
    assert letter.reason in ("malformed", "permanent") and letter.run_id is None


def test_a_replay_that_fails_again_keeps_its_link(broker: Cluster) -> None:
    first = refuse.delay("no")
    original = one_letter(broker, first.id)

    again = replay(broker.app, original.id).task_id

    replayed = wait_for(lambda: [d for d in letters(broker) if d.task_id == again], 20, "the replay's dead letter")
    assert replayed[0].replay_of == original.id and replayed[0].reason == "permanent"


def test_a_replay_header_naming_no_dead_letter_still_leaves_one_record(broker: Cluster) -> None:
    outcome = refuse.apply_async(("no",), headers={dead_letters.REPLAY_HEADER: 10**6})

    letter = one_letter(broker, outcome.id)

    assert letter.reason == "permanent" and letter.replay_of is None
