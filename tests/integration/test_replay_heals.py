"""A replayed dead letter of a workflow node runs inside its run, and the last one to succeed heals the run; a
replay whose arguments no longer fit its skill is refused before anything is published; a run can be cancelled."""

from __future__ import annotations

from datetime import date

import pytest
import redis
from sqlalchemy import update

from organism.failures import dead_letters
from organism.failures.replay import Arguments, ReplayRefused, replay
from organism.store import session
from organism.store.models import DeadLetter, Node, Run
from organism.workflows.cancel import cancel
from organism.workflows.queries import NOT_RUN, find_run, node_status
from organism.workflows.reconcile import watchdog
from organism.workflows.start import resume, start
from tests.conftest import Cluster
from tests.integration.test_cli import organism
from tests.support.faulty import refuse
from tests.support.holds import release
from tests.support.noop import ALL_GATED_SYNC, FAIL_SYNC, GATE, HANG_SYNC
from tests.support.services import finished_run, wait_for

pytestmark = pytest.mark.integration


def _failed_scans(cluster: Cluster, workflow: str, day: date, failing: int):  # type: ignore[no-untyped-def]
    """Start ``workflow`` with the gate closed; the run once it failed and its ``failing`` scans' letters exist."""
    gate = redis.Redis.from_url(GATE)
    gate.delete("gate")
    started = start(cluster.app, workflow, {"date": day})
    finished_run(cluster.settings.database, started.run_id, timeout_s=30)
    letters = wait_for(lambda: len(found := dead_letters.find(cluster.settings.database, run=started.run_id))
                       == failing and found, 30, f"{failing} dead letters of the run")
    run = wait_for(lambda: (r := find_run(cluster.settings.database, started.run_id)) and all(
        n.status in ("succeeded", "failed") for n in r.nodes if n.phase == 0) and r, 20, "the scans to settle")
    gate.set("gate", "open")
    return run, sorted(letters, key=lambda letter: letter.node or "")


def test_replaying_every_failed_scan_heals_the_run(cluster: Cluster) -> None:
    run, letters = _failed_scans(cluster, ALL_GATED_SYNC, date(2026, 3, 1), failing=4)
    assert run.status == "failed"
    assert {n.name: node_status(run, n) for n in run.nodes if n.phase > 0} == dict.fromkeys(
        ("synthesis", "eval.a", "eval.b", "store"), NOT_RUN)

    first = replay(cluster.app, letters[0].id)

    assert first.waiting == ("q2.gated", "q3.gated", "q4.gated")
    assert "the run stays failed until q2.gated, q3.gated, q4.gated also succeed (3 to go" in str(first)
    wait_for(lambda: _status(cluster, run.id, "q1.gated") == "succeeded", 20, "the replayed scan to succeed")
    assert find_run(cluster.settings.database, run.id).status == "failed", "the run went on with 3 scans failed"

    rest = [replay(cluster.app, letter.id) for letter in letters[1:]]

    assert [r.waiting for r in rest] == [("q3.gated", "q4.gated"), ("q4.gated",), ()]
    healed = wait_for(lambda: (r := find_run(cluster.settings.database, run.id)) and r.status == "succeeded" and r,
                      40, "the run to heal")
    nodes = {n.name: n for n in healed.nodes}
    assert nodes["store"].result is not None and nodes["store"].result["run_id"] == run.id
    assert all(nodes[f"q{i}.gated"].attempts == 2 for i in range(1, 5)), "each scan: the failed and the replay"
    assert all(nodes[name].attempts == 1 for name in ("synthesis", "eval.a", "eval.b", "store"))
    assert [e["event"] for e in healed.history].count("healed") == 1
    assert all(letter.status == "replayed" for letter in dead_letters.find(cluster.settings.database, run=run.id,
                                                                           status=None))


def test_a_replay_never_reruns_what_succeeded_and_a_resumed_run_settles_its_letters(cluster: Cluster) -> None:
    run, [letter] = _failed_scans(cluster, FAIL_SYNC, date(2026, 3, 2), failing=1)
    before = {n.name: (n.task_id, n.attempts) for n in run.nodes if n.status == "succeeded"}

    done = replay(cluster.app, letter.id)

    assert done.waiting == () and done.node == "q2.gated"
    healed = wait_for(lambda: (r := find_run(cluster.settings.database, run.id)) and r.status == "succeeded" and r,
                      40, "the run to heal")
    after = {n.name: (n.task_id, n.attempts) for n in healed.nodes}
    assert all(after[name] == value for name, value in before.items()), "a node that had succeeded ran again"
    assert replay(cluster.app, letter.id).earlier, "a second replay of the letter published again"


def test_a_resume_settles_the_letters_of_the_nodes_it_sends_again(cluster: Cluster) -> None:
    run, [letter] = _failed_scans(cluster, FAIL_SYNC, date(2026, 3, 3), failing=1)

    resume(cluster.app, run.id, by="by the test")

    settled = dead_letters.get(cluster.settings.database, letter.id)
    assert settled is not None and settled.status == "replayed", "the resume left its node's letter replayable"
    assert finished_run(cluster.settings.database, run.id, timeout_s=40).status == "succeeded"


def test_arguments_that_no_longer_fit_are_refused_and_edited_ones_replay(cluster: Cluster) -> None:
    outcomes = [refuse.delay(f"no {n}") for n in range(3)]
    for outcome in outcomes:
        with pytest.raises(Exception, match="no"):
            outcome.get(timeout=20)
    letters = wait_for(lambda: len(found := dead_letters.find(cluster.settings.database, skill="test.refuse")) == 3
                       and found, 20, "three dead letters")
    misfit = letters[1]
    with session(cluster.settings.database) as s:  # the skill's signature changed since the call died
        s.execute(update(DeadLetter).where(DeadLetter.id == misfit.id).values(args=[1, 2, 3]))

    replayed = organism("dlq", "replay", "--all", "--skill", "test.refuse", "--force", env=cluster.env)

    assert replayed.returncode == 1 and "Traceback" not in replayed.stderr, replayed.stderr
    assert f"not replayed: dead letter {misfit.id}: test.refuse: invalid arguments: too many positional" in (
        replayed.stderr)
    assert "2 of 3 replayed, 1 not" in replayed.stderr
    assert all(f"dead letter {one.id} replayed as task" in replayed.stdout for one in (letters[0], letters[2]))
    kept = dead_letters.get(cluster.settings.database, misfit.id)
    assert kept is not None and kept.status == "dead" and kept.args == [1, 2, 3], "a refused replay changed the record"

    with pytest.raises(ReplayRefused, match="reason: Input should be a valid string"):
        replay(cluster.app, misfit.id, force=True, arguments=Arguments([5], {}))
    edited = replay(cluster.app, misfit.id, force=True, arguments=Arguments(["edited"], {}))

    record = dead_letters.get(cluster.settings.database, misfit.id)
    assert record is not None and record.args == [1, 2, 3], "the record lost its original arguments"
    assert record.replay_arguments == {"args": ["edited"], "kwargs": {}} and record.replayed_as == edited.task_id
    again = wait_for(lambda: [d for d in dead_letters.find(cluster.settings.database, skill="test.refuse")
                              if d.replay_of == misfit.id], 20, "the edited replay's own dead letter")
    assert again[0].args == ["edited"]


def test_cancel_revokes_a_running_run(cluster: Cluster) -> None:
    started = start(cluster.app, HANG_SYNC, {"date": date(2026, 3, 4)})
    wait_for(lambda: _status(cluster, started.run_id, "q1.slow") == "running", 20, "the slow scan to start")

    done = cancel(cluster.app, started.run_id, by="by the test")

    assert "q1.slow" in done.revoked and "store" in done.revoked
    run = find_run(cluster.settings.database, started.run_id)
    assert run.status == "cancelled" and run.error == "cancelled by the test"
    slow, synthesis = _task(cluster, started.run_id, "q1.slow"), _task(cluster, started.run_id, "synthesis")
    assert (_state(cluster, slow), _state(cluster, synthesis)) == ("REVOKED", "REVOKED"), \
        "the unfinished nodes do not read cancelled"
    release(cluster.settings, started.run_id)
    if cluster.profile == "embedded":  # no broadcasts: the running scan finishes, the nodes after it are skipped
        wait_for(lambda: _state(cluster, slow) == "SUCCESS", 20, "the running scan to finish")
        # the chord body if the other scans had run before the cancel, else the scans still queued
        wait_for(lambda: _skipped(cluster), 20, "a cancelled node to be skipped")
    else:
        wait_for(lambda: f"Terminating {slow}" in _logs(cluster), 20, "the running scan to be terminated")
    run = find_run(cluster.settings.database, started.run_id)
    assert run.status == "cancelled"
    assert {n.name: (n.status, n.started_at) for n in run.nodes}["synthesis"] == ("cancelled", None)
    assert dead_letters.find(cluster.settings.database, run=started.run_id, status=None) == []


def _state(cluster: Cluster, task_id: str) -> str:
    """The task's state as stored now (an AsyncResult keeps the first finished state it reads)."""
    return str(cluster.app.backend.get_task_meta(task_id, cache=False)["status"])


def _logs(cluster: Cluster) -> str:
    return "".join(log.read_text(errors="replace") for log in cluster.workers.log_dir.glob("worker-*.log"))


def _skipped(cluster: Cluster) -> str:
    return "".join(line for line in _logs(cluster).splitlines() if "its run was cancelled; not run" in line)


def _status(cluster: Cluster, run_id: str, name: str) -> str | None:
    run = find_run(cluster.settings.database, run_id)
    return next((n.status for n in run.nodes if n.name == name), None) if run else None


def _task(cluster: Cluster, run_id: str, name: str) -> str:
    run = find_run(cluster.settings.database, run_id)
    return next(n.task_id for n in run.nodes if n.name == name)


def test_the_watchdog_heals_a_run_whose_replay_worker_died_before_healing_it(cluster: Cluster) -> None:
    """A worker killed between writing its replayed node's success and healing the run leaves the run failed
    with nothing failed; the watchdog's next round goes on with it."""
    run, [letter] = _failed_scans(cluster, FAIL_SYNC, date(2026, 3, 5), failing=1)
    done = replay(cluster.app, letter.id)
    healed = wait_for(lambda: (r := find_run(cluster.settings.database, run.id)) and r.status == "succeeded" and r,
                      40, "the run to heal")
    with session(cluster.settings.database) as s:  # back to the moment the worker died
        s.execute(update(Run).where(Run.id == run.id).values(status="failed", history=[
            *healed.history[:-1]]))
        s.execute(update(Node).where(Node.run_id == run.id, Node.phase > 0).values(status="pending", result=None))
    assert find_run(cluster.settings.database, run.id).history[-1]["event"] == "replayed", done

    watchdog.delay()

    again = wait_for(lambda: (r := find_run(cluster.settings.database, run.id)) and r.status == "succeeded" and r,
                     40, "the watchdog to heal the run")
    assert again.history[-1]["event"] == "healed" and "healed by the watchdog" in again.history[-1]["detail"]


def test_the_command_line_shows_what_will_not_run_and_cancels_a_failed_run(cluster: Cluster) -> None:
    run, [letter] = _failed_scans(cluster, FAIL_SYNC, date(2026, 3, 6), failing=1)

    shown = organism("runs", "show", run.key, env=cluster.env)
    assert shown.returncode == 0 and shown.stdout.count("not run (upstream") == 4, shown.stdout

    cancelled = organism("runs", "cancel", run.key, env=cluster.env)
    again = organism("runs", "cancel", run.key, env=cluster.env)

    assert cancelled.returncode == 0 and f"run {run.key} cancelled: revoked" in cancelled.stdout, cancelled.stderr
    assert again.returncode == 1 and f"run {run.key} is cancelled; only a pending" in again.stderr
    assert "Traceback" not in again.stderr
    with pytest.raises(ReplayRefused, match="the run was cancelled; start the workflow again"):
        replay(cluster.app, letter.id)
