"""A dead letter reaches the store whatever the message held, on PostgreSQL and SQLite: exactly one record each."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from organism import store
from organism.app import create_app
from organism.failures import bookkeeping, dead_letters
from organism.failures.classify import Action
from organism.failures.dead_letters import Letter
from organism.failures.replay import ReplayRefused, replay
from organism.settings import Settings
from organism.store.models import Attempt, DeadLetter, Node, Run
from tests.support.services import fresh_pg_database

pytestmark = pytest.mark.integration

PG_LETTERS = "organism_test_letters"


@pytest.fixture(params=["postgresql", "sqlite"])
def url(request: pytest.FixtureRequest, services: None, tmp_path: Path) -> Iterator[str]:
    if request.param == "postgresql":
        fresh_pg_database(PG_LETTERS)
        found = f"postgresql+psycopg://postgres@127.0.0.1:5432/{PG_LETTERS}"
    else:
        found = f"sqlite:///{tmp_path / 'organism.sqlite'}"
    store.migrate(found)
    yield found
    store.db.engine_for(found).dispose()


def letter(**given: object) -> Letter:
    fields: dict[str, object] = {
        "task_id": str(uuid.uuid4()), "task_name": "test.fail_with", "organ": "perception", "run_id": None,
        "node": None, "args": ["a"], "kwargs": {}, "reason": "permanent", "error_type": "PermanentError",
        "error_message": "no", "traceback": None, "attempts": [dead_letters.attempt("dead", "PermanentError: no")]}
    return Letter(**(fields | given))  # type: ignore[arg-type]


def stored(url: str, task_id: str) -> DeadLetter:
    [found] = [d for d in dead_letters.find(url, status=None) if d.task_id == task_id]
    return found


def test_text_the_database_refuses_is_escaped_in_every_field(url: str) -> None:
    bad = "x\x00y\udc80z"
    given = letter(task_name=f"test.{bad}", organ=bad, args=[bad, {bad: [bad]}], kwargs={bad: bad},
                   error_type=f"E{bad}", error_message=bad, traceback=f"Traceback: {bad}",
                   attempts=[dead_letters.attempt("dead", bad)])

    bookkeeping.gave_up(url, given)

    found = stored(url, given.task_id)
    shown = "x\\x00y\\udc80z"
    assert (found.task_name, found.organ, found.error_type, found.error_message, found.traceback) == (
        f"test.{shown}", shown, f"E{shown}", shown, f"Traceback: {shown}")
    assert (found.args, found.kwargs) == ([shown, {shown: [shown]}], {shown: shown})
    assert found.attempts[0]["error"] == shown
    assert not found.replayable, "arguments escaped for the store must not be replayed as if they were the call's"


def test_large_values_keep_their_head_and_full_size(url: str) -> None:
    big = "x" * 10_485_760
    given = letter(args=[big, 2], kwargs={"text": big}, error_message=big, traceback=big,
                   attempts=[dead_letters.attempt("retry", big)])

    bookkeeping.gave_up(url, given)

    found = stored(url, given.task_id)
    marker = "…[truncated, 10485760 chars]"
    assert found.error_message.endswith(marker) and len(found.error_message) < 70_000
    assert (found.traceback or "").endswith(marker) and found.args[0].endswith(marker)
    assert found.args[1] == "…[truncated, 2 items]" and found.kwargs["text"].endswith(marker)
    assert len(found.attempts[0]["error"]) < 1100 and found.attempts[0]["error"].endswith(marker)
    with pytest.raises(ReplayRefused, match="cut or escaped to fit the store"):
        _replay(url, found.id)


def _replay(url: str, letter_id: int) -> str:
    return replay(create_app(Settings(database_url=url)), letter_id).task_id


def test_attempts_kept_in_the_store_open_the_history_and_leave_the_store(url: str) -> None:
    given = letter(reason="exhausted", attempts=[dead_letters.attempt("retry", "TransientError: third")])
    bookkeeping.retrying(url, given.task_id, Action.RETRY, "TransientError: first", in_run=False)
    bookkeeping.retrying(url, given.task_id, Action.DEFER, "Deferred: circuit open", in_run=False)
    bookkeeping.retrying(url, given.task_id, Action.RETRY, "TransientError: second\x00", in_run=False)
    assert bookkeeping.retries_spent(url, given.task_id) == 2

    bookkeeping.gave_up(url, given)

    found = stored(url, given.task_id)
    assert [(a["action"], a["error"]) for a in found.attempts] == [
        ("retry", "TransientError: first"), ("defer", "Deferred: circuit open"),
        ("retry", "TransientError: second\\x00"), ("retry", "TransientError: third")]
    with store.session(url) as s:
        assert s.scalars(select(Attempt).where(Attempt.task_id == given.task_id)).all() == []


def test_a_call_retried_very_often_keeps_its_latest_attempts(url: str) -> None:
    given = letter(reason="exhausted", attempts=[dead_letters.attempt("retry", "last")])
    for n in range(150):
        bookkeeping.retrying(url, given.task_id, Action.RETRY, f"attempt {n}", in_run=False)

    bookkeeping.gave_up(url, given)

    attempts = stored(url, given.task_id).attempts
    assert len(attempts) == dead_letters.ATTEMPTS_KEPT
    assert attempts[0]["error"] == "…[truncated, 151 attempts]"
    assert [a["error"] for a in attempts[-2:]] == ["attempt 149", "last"]


@pytest.mark.parametrize("replay_of", [10**6, 2**40, "3", True, [1]])
def test_a_replay_link_to_no_dead_letter_is_dropped_not_fatal(url: str, replay_of: object) -> None:
    given = letter(replay_of=replay_of)

    bookkeeping.gave_up(url, given)

    assert stored(url, given.task_id).replay_of is None


def test_a_replay_link_to_a_dead_letter_is_kept(url: str) -> None:
    first = letter()
    bookkeeping.gave_up(url, first)
    original = stored(url, first.task_id).id
    again = letter(replay_of=original)

    bookkeeping.gave_up(url, again)

    assert stored(url, again.task_id).replay_of == original


@pytest.mark.parametrize("run_id", [5, ["a", "list"], {"no": "run"}, ""])
def test_a_run_id_that_is_not_text_names_no_run(url: str, run_id: object) -> None:
    given = letter(run_id=run_id)

    bookkeeping.gave_up(url, given)

    assert stored(url, given.task_id).run_id is None


def test_arguments_of_the_wrong_shape_are_recorded_as_given(url: str) -> None:
    given = letter(args=5, kwargs=["not", "a", "dict"])

    bookkeeping.gave_up(url, given)

    found = stored(url, given.task_id)
    assert (found.args, found.kwargs, found.replayable) == (5, ["not", "a", "dict"], False)


def test_a_failed_node_and_its_run_take_the_escaped_error(url: str) -> None:
    run_id, task_id = str(uuid.uuid4()), str(uuid.uuid4())
    with store.session(url) as s:
        s.add(Run(id=run_id, key=f"k-{run_id}", workflow="w", params={}))
        s.flush()
        s.add(Node(task_id=task_id, run_id=run_id, name="q1.scan", phase=0, phase_name="scan", skill="test.scan",
                   organ="perception"))

    bookkeeping.gave_up(url, letter(task_id=task_id, run_id=run_id, error_message="bad\x00byte"))

    assert stored(url, task_id).node == "q1.scan"
    with store.session(url) as s:
        node, run = s.get(Node, task_id), s.get(Run, run_id)
        assert node is not None and run is not None
        assert (node.status, node.error) == ("failed", "PermanentError: bad\\x00byte")
        assert (run.status, run.error) == ("failed", "q1.scan: PermanentError: bad\\x00byte")


def test_a_record_the_store_refuses_is_written_minimal(url: str, caplog: pytest.LogCaptureFixture) -> None:
    given = letter(delivery_count=2**70, args=["kept?"], error_message="the error")  # out of any integer column

    with caplog.at_level(logging.ERROR, logger="organism.workflows.tracking"):
        bookkeeping.gave_up(url, given)

    found = stored(url, given.task_id)
    assert (found.task_name, found.organ, found.reason, found.error_type, found.error_message) == (
        "test.fail_with", "perception", "permanent", "PermanentError", "the error")
    assert (found.args, found.kwargs, found.delivery_count, found.replayable) == ([], {}, 1, False)
    assert found.attempts[-1]["error"].startswith("the store refused the whole record: ")
    assert f"could not record the dead letter of task {given.task_id} whole" in caplog.text


def test_the_same_task_is_recorded_once(url: str) -> None:
    given = letter()

    bookkeeping.gave_up(url, given)
    bookkeeping.gave_up(url, given)

    assert len([d for d in dead_letters.find(url, status=None) if d.task_id == given.task_id]) == 1


def test_an_unreachable_store_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    given = letter()

    with caplog.at_level(logging.ERROR, logger="organism.workflows.tracking"):
        bookkeeping.gave_up("postgresql+psycopg://postgres@127.0.0.1:1/nowhere", given)

    assert f"could not record the dead letter of task {given.task_id}: the store is unreachable" in caplog.text
    assert "minimal" not in caplog.text
