"""Issue 8's load figure: 5,000 calls, the worker's main process SIGKILLed twice; nothing lost, no effect twice.

One perception worker (two prefork children, as bench.common starts it) takes 5,000 calls of the idempotent
``faults.apply`` skill of tests/faults/skills.py: 20-50 ms of work, then its effect, the call's key added to a
Redis set; it also records every execution begun and every body finished. All calls are published first. When a
third and then two thirds of them have started, the worker's main process gets SIGKILL (its pool processes die
with it: Celery gives them a parent-death signal) and a new worker is started. Then the benchmark waits until
every call has a final state, or until none has reached one for ``--stall`` seconds, and counts:

* lost: calls with no final state. RabbitMQ hands a dead connection's unacknowledged messages out again at once,
  so none may be lost there. On the Redis broker a killed main process may take one message that never started
  with it (kombu's BRPOP window, see tests/faults/test_worker_kills.py): one such call per kill is allowed and
  reported, one that had started is not.
* effects: the set must hold exactly the completed calls' keys. A body that applied its effect and was killed
  before its ack runs again and applies it again; the set absorbs that, and the table counts those repeats.

The Redis worker runs with the fault tests' Redis settings (visibility timeout 8 s, time limits 4/5 s, Retry-After
cap 2 s), and each restart waits out the visibility timeout first, so that the new worker hands the killed one's
messages out again as it connects (with the default hour they would come back an hour later).

    .venv/bin/python -m bench.worker_kills
    .venv/bin/python -m bench.worker_kills --profiles production,redis
"""

from __future__ import annotations

import argparse
import random
import signal
import time
import uuid
from dataclasses import dataclass

from celery.result import AsyncResult

from bench.common import BenchError, Cluster, Report, cluster, main, parser, step
from bench.noop_tasks import RAW
from organism.failures import dead_letters
from tests.faults.conftest import REDIS_ENV, children, kill_leftovers
from tests.faults.skills import traces
from tests.faults.test_worker_kills import REDIS_BRPOP_WINDOW, in_hand

MODULES = ["bench.noop_tasks", "tests.faults.skills"]
ORGAN = "perception"
APPLY = "faults.apply"
KILLS_AT = (1 / 3, 2 / 3)  # fractions of the calls started when the main process is killed
PROGRESS_TIMEOUT_S = 180
FINAL = ("SUCCESS", "FAILURE")


@dataclass
class Outcome:
    """How the calls of one profile ended, and what their bodies did."""

    profile: str
    calls: int
    completed: int
    dead_lettered: int
    lost: int
    effects: int
    bodies_run_twice: int
    effects_repeated: int
    in_hand: int
    seconds: float
    problems: list[str]

    def row(self) -> list[object]:
        return [self.profile, self.calls, self.completed, self.dead_lettered, self.lost, self.effects,
                self.bodies_run_twice, self.effects_repeated, self.in_hand, self.seconds]


def started(prefix: str) -> int:
    return int(traces().llen(f"{prefix}:started"))


def wait_started(bench: Cluster, prefix: str, count: int) -> None:
    """Wait until ``count`` executions have begun; stop if the worker exits or nothing comes."""
    what = f"{count} calls started"
    deadline = time.monotonic() + PROGRESS_TIMEOUT_S
    while started(prefix) < count:
        if bench.workers.dead():
            raise BenchError(f"the {ORGAN} worker exited while waiting for {what}; its log:\n"
                             f"{bench.workers.log_tail(ORGAN)}")
        if time.monotonic() > deadline:
            raise BenchError(f"no {what} within {PROGRESS_TIMEOUT_S}s; the worker's log:\n"
                             f"{bench.workers.log_tail(ORGAN)}")
        time.sleep(0.05)


def restart(bench: Cluster, env: dict[str, str]) -> None:
    """Stop the worker, start it again with ``env`` added, and wait until it runs a call."""
    bench.workers.stop()
    bench.workers.env.update(env)
    bench.workers.start(ORGAN)
    bench.app.tasks[RAW].apply_async(queue=ORGAN).get(timeout=60)


def kill_main(bench: Cluster, prefix: str, visibility_s: float) -> list[str]:
    """SIGKILL the worker's main process, start a new one; return the keys its pool had in hand."""
    process = bench.workers.processes[ORGAN]
    pool = children(process.pid)
    held = in_hand(prefix, pool)
    process.send_signal(signal.SIGKILL)
    process.wait(10)
    killed_at = time.monotonic()
    leftovers = kill_leftovers(pool)
    if leftovers:
        raise BenchError(f"pool processes {leftovers} outlived their killed main process by 10 s")
    if visibility_s:
        time.sleep(max(0.0, killed_at + visibility_s + 1 - time.monotonic()))
    bench.workers.start(ORGAN)
    return sorted(held.values())


def settle(calls: dict[str, AsyncResult], stall_s: float) -> tuple[dict[str, str], float]:
    """Wait until every call has a final state, or none reached one for ``stall_s``; return the final states
    and when the last of them was seen."""
    waiting = dict(calls)
    states: dict[str, str] = {}
    last = shown = time.monotonic()
    while waiting and time.monotonic() - last < stall_s:
        for key, call in list(waiting.items()):
            if call.state in FINAL:
                states[key] = call.state
                del waiting[key]
                last = time.monotonic()
        if waiting and time.monotonic() - shown > 10:
            step(f"{len(states)} calls final, {len(waiting)} waiting")
            shown = time.monotonic()
        time.sleep(1 if waiting else 0)
    return states, last


def one_profile(profile: str, count: int, work_ms: tuple[float, float], stall_s: float) -> Outcome:
    with cluster(profile, MODULES, [ORGAN]) as bench:
        visibility_s = 0.0
        if profile == "redis":
            restart(bench, REDIS_ENV)
            visibility_s = float(REDIS_ENV["ORGANISM_REDIS_VISIBILITY_TIMEOUT_S"])
        prefix = f"bench:kills:{uuid.uuid4().hex}"
        rand = random.Random(0)
        task = bench.app.tasks[APPLY]
        began = time.monotonic()
        calls = {key: task.apply_async((prefix, key, rand.uniform(*work_ms) / 1000))
                 for key in (f"k{n:04d}" for n in range(count))}
        step(f"{profile}: {count} calls published in {time.monotonic() - began:.1f}s")
        held: list[str] = []
        for fraction in KILLS_AT:
            mark = int(count * fraction)
            wait_started(bench, prefix, mark)
            held += kill_main(bench, prefix, visibility_s)
            step(f"{profile}: main process killed at {mark} calls started, {len(held)} in hand so far; restarted")
        states, last = settle(calls, stall_s)
        try:
            return tally(profile, bench.settings.database, prefix, calls, states, held, round(last - began, 1))
        finally:
            traces().delete(*(f"{prefix}:{name}" for name in ("started", "finished", "effect", "busy")))


def tally(profile: str, database: str, prefix: str, calls: dict[str, AsyncResult], states: dict[str, str],
          held: list[str], seconds: float) -> Outcome:
    r = traces()
    started_keys = [str(key) for key in r.lrange(f"{prefix}:started", 0, -1)]
    finished_keys = [str(key) for key in r.lrange(f"{prefix}:finished", 0, -1)]
    effects = {str(key) for key in r.smembers(f"{prefix}:effect")}
    completed = {key for key, state in states.items() if state == "SUCCESS"}
    failed = len(states) - len(completed)
    ids = {call.id for call in calls.values()}
    letters = [letter for letter in dead_letters.find(database, skill=APPLY, status=None)
               if letter.task_id in ids]
    lost = set(calls) - set(states)
    lost_started = lost & set(started_keys)
    allowed = REDIS_BRPOP_WINDOW * len(KILLS_AT) if profile == "redis" else 0
    problems = []
    if len(lost) > allowed or lost_started:
        problems.append(f"{len(lost)} calls lost (allowed: {allowed} that never started), "
                        f"{len(lost_started)} of them had started: {sorted(lost)[:5]}")
    if completed != effects:
        problems.append(f"the effect set differs from the completed calls: completed without effect "
                        f"{sorted(completed - effects)[:5]}, effect without completion "
                        f"{sorted(effects - completed)[:5]}")
    if failed != len(letters):
        problems.append(f"{failed} calls failed but {len(letters)} dead letters were written")
    if unfinished := [key for key in held if states.get(key) != "SUCCESS"]:
        problems.append(f"calls in a killed process's hands did not complete: {unfinished[:5]}")
    return Outcome(profile, len(calls), len(completed), len(letters), len(lost), len(effects),
                   len(started_keys) - len(set(started_keys)), len(finished_keys) - len(set(finished_keys)),
                   len(held), seconds, problems)


def measure(report: Report) -> None:
    args = report.args
    low, high = (float(ms) for ms in args.work_ms.split("-"))
    outcomes = [one_profile(profile, args.calls, (low, high), args.stall) for profile in args.profiles.split(",")]
    report.table(
        f"{args.calls:,} calls of an idempotent skill ({low:.0f}-{high:.0f} ms of work), the worker's main process "
        f"SIGKILLed at {' and '.join(f'{f:.0%}' for f in KILLS_AT)} of the calls started",
        ["profile", "calls", "completed", "dead-lettered", "lost (no final state)", "effects in the set",
         "bodies run twice", "effects applied again (absorbed)", "in hand at the kills", "seconds"],
        [outcome.row() for outcome in outcomes],
        note="One perception worker with two pool processes, restarted after each kill. Lost: no final state "
             f"{args.stall:.0f} s after the last one arrived (Redis allows one never-started call per kill: kombu's "
             "BRPOP window). The effect set holds each completed call's key once; 'bodies run twice' are "
             "redeliveries of calls a killed process held, 'effects applied again' those of them that had already "
             "applied their effect before the kill, which the idempotent set absorbed. Seconds: from the first "
             "publish to the last final state.")
    problems = [f"{outcome.profile}: {problem}" for outcome in outcomes for problem in outcome.problems]
    if problems:
        raise BenchError("; ".join(problems))


def arguments() -> argparse.Namespace:
    p = parser(__doc__.split("\n")[0])
    p.add_argument("--calls", type=int, default=5000, help="calls per profile (default 5000)")
    p.add_argument("--work-ms", default="20-50", help="each call's work, drawn uniformly (default 20-50)")
    p.add_argument("--profiles", default="production", help="profiles, comma-separated (default production)")
    p.add_argument("--stall", type=float, default=30, metavar="S",
                   help="stop waiting when no call reached a final state for S seconds (default 30)")
    p.set_defaults(time_limit=900)
    return p.parse_args()


def run() -> int:
    return main("bench.worker_kills", arguments(), measure)


if __name__ == "__main__":
    raise SystemExit(run())
