"""Kill -9 a worker's pool process, or its main process, mid-task, with 500 calls in flight.

What a user must see afterwards: every call ends as a success or exactly one dead letter (completed +
dead-lettered = submitted), and the idempotent effect of every completed call is there exactly once. A message
that was in a killed process's hands comes back (late acks, reject on worker lost), so some calls run twice;
each test reports how many.

One exception, on the Redis broker only: kombu takes a message off a Redis list with BRPOP and records it as
unacknowledged in a second step (celery/celery#7950 shows the two). A main process killed between them (or with
the BRPOP reply still unread in its socket) takes a message that never started with it, and no broker can hand it
out again. The main-process kill on Redis therefore allows one such message, never started, and reports it as
``unfinished``; docs/benchmarks.md lists it among the faults.
"""

from __future__ import annotations

import json
import os
import random
import signal
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

import pytest
from celery.result import AsyncResult

from organism.failures import dead_letters
from tests.conftest import Cluster
from tests.faults.conftest import alive, children, kill_leftovers, wait_past_visibility_timeout
from tests.faults.skills import apply, traces
from tests.support.services import wait_for

pytestmark = pytest.mark.integration

SUBMITTED = 500
SETTLE_TIMEOUT_S = 90
REDIS_BRPOP_WINDOW = 1  # messages a killed main process may take with it on Redis (see the module docstring)


@dataclass
class Tally:
    """How 500 calls ended, and how often their bodies ran."""

    scenario: str
    profile: str
    submitted: int
    completed: int
    dead_lettered: int
    failed: int
    unfinished: int  # only calls that never started, and only where settle() was told to allow them
    executions_started: int
    bodies_finished: int
    effects: int
    redelivered_runs: int  # executions beyond one per call: the redeliveries that ran the body again
    duplicate_bodies: int  # bodies that finished more than once (their effect is still applied once)
    killed_in_hand: list[str]
    settle_s: float

    def save(self, artifacts: Path) -> None:
        with (artifacts / "faults.jsonl").open("a") as out:
            out.write(json.dumps({"test": "kill", **asdict(self)}) + "\n")
        print(f"\n{self.scenario} on {self.profile}: {asdict(self)}")


def submit(prefix: str) -> dict[str, AsyncResult]:
    """500 idempotent calls of 50-100 ms each, all published before the first kill."""
    rand = random.Random(prefix)
    return {key: apply.delay(prefix, key, rand.uniform(0.05, 0.1))
            for key in (f"k{n:03d}" for n in range(SUBMITTED))}


def started(prefix: str) -> int:
    return int(traces().llen(f"{prefix}:started"))


def in_hand(prefix: str, pool: list[int]) -> dict[int, str]:
    """The keys the given pool processes (the live ones) are working on right now."""
    busy = {int(pid): str(key) for pid, key in traces().hgetall(f"{prefix}:busy").items()}
    return {pid: busy[pid] for pid in pool if pid in busy and alive(pid)}


def settle(cluster: Cluster, scenario: str, prefix: str, calls: dict[str, AsyncResult], killed: list[str],
           since: float, lost_ok: int = 0) -> Tally:
    """Wait (bounded) until every call has a final state; count outcomes and executions.

    With ``lost_ok``, up to that many calls that never started may stay unfinished (see the module docstring).
    """
    waiting = dict(calls)
    states: dict[str, str] = {}
    r = traces()

    def all_final() -> bool:
        for key, call in list(waiting.items()):
            if call.state in ("SUCCESS", "FAILURE"):
                states[key] = call.state
                del waiting[key]
        return not waiting

    try:
        wait_for(all_final, SETTLE_TIMEOUT_S, "all 500 calls to succeed or fail", interval_s=0.5)
    except pytest.fail.Exception:
        ever_started = {str(key) for key in r.lrange(f"{prefix}:started", 0, -1)}
        if len(waiting) > lost_ok or set(waiting) & ever_started:
            print(f"{len(waiting)} calls never finished, e.g. {sorted(waiting)[:5]}; states "
                  f"{sorted({call.state for call in waiting.values()})}\n"
                  f"{cluster.workers.log_tail('perception', 30)}")
            raise
    ids = {call.id for call in calls.values()}
    letters = [letter for letter in dead_letters.find(cluster.settings.database, status=None) if letter.task_id in ids]
    started_keys = [str(key) for key in r.lrange(f"{prefix}:started", 0, -1)]
    finished_keys = [str(key) for key in r.lrange(f"{prefix}:finished", 0, -1)]
    return Tally(
        scenario=scenario, profile=cluster.profile, submitted=len(calls),
        completed=sum(state == "SUCCESS" for state in states.values()), dead_lettered=len(letters),
        failed=sum(state == "FAILURE" for state in states.values()), unfinished=len(waiting),
        executions_started=len(started_keys), bodies_finished=len(finished_keys),
        effects=int(r.scard(f"{prefix}:effect")), redelivered_runs=len(started_keys) - len(set(started_keys)),
        duplicate_bodies=len(finished_keys) - len(set(finished_keys)), killed_in_hand=killed,
        settle_s=round(time.monotonic() - since, 1))


def check(tally: Tally, prefix: str, calls: dict[str, AsyncResult]) -> None:
    """What the user must see after the kills."""
    assert tally.completed + tally.dead_lettered + tally.unfinished == tally.submitted, tally
    assert tally.failed == tally.dead_lettered, "a failed call without its dead letter (or the reverse)"
    completed = {key for key, call in calls.items() if call.state == "SUCCESS"}
    effects = {str(key) for key in traces().smembers(f"{prefix}:effect")}
    assert completed <= effects, f"completed calls without their effect: {sorted(completed - effects)[:5]}"
    assert effects <= set(calls), "an effect of a key nobody submitted"
    for key in tally.killed_in_hand:
        assert calls[key].state == "SUCCESS", f"{key} was in the killed process's hands and did not complete"
        assert calls[key].get(timeout=5) == key


def test_killing_pool_processes_mid_task_loses_nothing(faults: Cluster, artifacts: Path) -> None:
    """Three times, SIGKILL a pool process while it works on a call; the pool replaces it on its own."""
    prefix = f"faults:kill-child:{uuid.uuid4().hex}"
    calls = submit(prefix)
    began = time.monotonic()
    main = faults.workers.processes["perception"].pid
    killed: list[str] = []
    victims: list[int] = []
    for progress in (100, 200, 300):
        wait_for(lambda p=progress: started(prefix) >= p, 60, f"{progress} calls to start")  # type: ignore[misc]
        pool = [pid for pid in children(main) if pid not in victims]  # a killed one may not be reaped yet
        pid, key = next(iter(wait_for(lambda p=pool: in_hand(prefix, p), 10,  # type: ignore[misc]
                                      "a pool process with a call in hand").items()))
        os.kill(pid, signal.SIGKILL)
        victims.append(pid)
        killed.append(key)

    tally = settle(faults, "SIGKILL pool process x3", prefix, calls, killed, began)

    tally.save(artifacts)
    check(tally, prefix, calls)
    assert faults.workers.dead() == [], "killing a pool process took the worker down"
    assert tally.redelivered_runs >= 1, "no killed call ran again: the kills did not land mid-task"


def test_killing_the_main_process_mid_task_loses_nothing(faults: Cluster, artifacts: Path) -> None:
    """SIGKILL the worker's main process while its pool works; start the worker again."""
    prefix = f"faults:kill-main:{uuid.uuid4().hex}"
    calls = submit(prefix)
    began = time.monotonic()
    wait_for(lambda: started(prefix) >= 150, 60, "150 calls to start")
    process = faults.workers.processes["perception"]
    pool = children(process.pid)
    held = in_hand(prefix, pool)
    process.send_signal(signal.SIGKILL)
    process.wait(10)
    try:
        wait_past_visibility_timeout(faults)  # Redis hands a dead consumer's messages out only after it
        faults.workers.start("perception")

        tally = settle(faults, "SIGKILL main process", prefix, calls, sorted(held.values()), began,
                       lost_ok=REDIS_BRPOP_WINDOW if faults.profile == "redis" else 0)
    finally:
        leftovers = kill_leftovers(pool)

    tally.save(artifacts)
    check(tally, prefix, calls)
    assert leftovers == [], f"pool processes {leftovers} outlived their killed main process by 10 s"
