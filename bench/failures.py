"""The failure path against raw Celery's: how soon a failure becomes a dead letter, and how fast dead letters replay.

One worker (two prefork children) serves the perception queue on RabbitMQ, with Redis results and the
PostgreSQL store (the production profile). On it run an Organism skill and a raw ``@shared_task`` of Organism's
app (same worker, queue and Celery configuration: late acks, a failed message rejected to the dead-letter
exchange), so the difference is what Organism's failure handling adds.

* Latency, one call at a time, alternating: the call raises with the time in its message; observers record when
  the FAILURE result arrives (Redis pub/sub), when the dead-letter row is visible in PostgreSQL (polled every
  2 ms) and when the message reaches the ``organism.dead`` queue (a consumer). Two failure kinds: a permanent
  error (dead at once) and a transient one whose one retry (0 s backoff) also fails (exhausted).
* Replay: N calls fail (a gate in Redis is closed), the gate opens, and every dead letter is replayed: with
  ``failures.replay.replay`` (the Python API ``organism dlq replay`` loops over), with the ``organism dlq replay --all``
  command, and, as raw Celery's nearest equivalent, by moving the rejected messages from the dead-letter queue
  back to the organ queue (a shovel: no record, no status, no idempotence). Rates from the first replay to the
  last one published, and to the last replayed call's success; the methods alternate over several rounds.

    .venv/bin/python -m bench.failures
"""

from __future__ import annotations

import argparse
import contextlib
import re
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
from celery import Celery, shared_task
from celery.result import AsyncResult, ResultSet
from kombu import Connection, Consumer, Message, Queue
from sqlalchemy import delete, select

from bench.common import REDIS_RESULTS_URL, ROOT, BenchError, Report, Summary, cluster, main, parser, step
from organism import store
from organism.brokers.queues import DEAD_LETTER_EXCHANGE, DEAD_LETTER_QUEUE, EXCHANGE
from organism.errors import PermanentError, TransientError
from organism.failures import dead_letters
from organism.failures.replay import replay
from organism.failures.retry import RetryPolicy
from organism.skill import skill
from organism.store.db import engine_for
from organism.store.models import DeadLetter

if __name__ == "__main__":
    # `python -m bench.failures` runs this file as __main__, while the app imports it as bench.failures (it is in
    # ORGANISM_TASK_MODULES, for the workers): run that copy, so that each task below is registered once.
    import bench.failures as _imported

    raise SystemExit(_imported.run())

MODULES = ["bench.noop_tasks", "bench.failures"]
ORGAN = "perception"
GATE = "bench:failures:gate"
STAMP = re.compile(r"at (\d+\.\d+)")
OBSERVE_TIMEOUT_S = 15
# One retry right away: the exhausted path without two seconds of backoff in every sample.
ONE_QUICK_RETRY = RetryPolicy(max_retries=1, backoff_base_s=0.0, jitter=0.0)


def _fail(kind: type[Exception], n: int) -> None:
    raise kind(f"bench failure {n} at {time.time():.6f}")


@skill(organ=ORGAN, name="bench.fail_permanent", effect="read-only")
def fail_permanent(n: int) -> None:
    _fail(PermanentError, n)


@skill(organ=ORGAN, name="bench.fail_transient", effect="read-only")
def fail_transient(n: int) -> None:
    _fail(TransientError, n)


@shared_task(name="bench.raw_fail")
def raw_fail(n: int) -> None:
    _fail(ValueError, n)


@shared_task(name="bench.raw_fail_retried", bind=True, autoretry_for=(ValueError,), max_retries=1,
             default_retry_delay=0, retry_backoff=False)
def raw_fail_retried(self: Any, n: int) -> None:
    _fail(ValueError, n)


def _gate_open() -> bool:
    return bool(redis.Redis.from_url(REDIS_RESULTS_URL).exists(GATE))


@skill(organ=ORGAN, name="bench.gated", effect="idempotent")
def gated(n: int) -> int:
    """Fail permanently while the gate is closed; succeed once it is open (a replay after a fix)."""
    if not _gate_open():
        raise PermanentError("gate closed")
    return n


@shared_task(name="bench.raw_gated")
def raw_gated(n: int) -> int:
    if not _gate_open():
        raise ValueError("gate closed")
    return n


# -- observers ----------------------------------------------------------------------------------------------

@dataclass
class Seen:
    """When each task id was first seen by an observer (time.time())."""

    at: dict[str, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def mark(self, task_id: str) -> None:
        with self.lock:
            self.at.setdefault(task_id, time.time())

    def get(self, task_id: str) -> float | None:
        with self.lock:
            return self.at.get(task_id)


class Observers:
    """Background threads: one polls the dead-letter table, one consumes the dead-letter queue."""

    def __init__(self, app: Celery, database: str, poll_s: float = 0.002) -> None:
        self.rows, self.dead_queue = Seen(), Seen()
        self.stopping = threading.Event()
        self.dlq_ready = threading.Event()
        self.threads = [threading.Thread(target=self._poll_rows, args=(database, poll_s), daemon=True),
                        threading.Thread(target=self._consume, args=(app.conf.broker_url,), daemon=True)]
        self.errors: list[BaseException] = []

    def __enter__(self) -> Observers:
        for thread in self.threads:
            thread.start()
        if not self.dlq_ready.wait(15):
            raise BenchError(f"could not consume {DEAD_LETTER_QUEUE}: {self.errors}")
        return self

    def __exit__(self, *_: object) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(5)

    def _poll_rows(self, database: str, poll_s: float) -> None:
        try:
            with engine_for(database).connect() as connection:
                last = connection.execute(select(DeadLetter.id).order_by(DeadLetter.id.desc()).limit(1)).scalar() or 0
                connection.commit()
                while not self.stopping.is_set():
                    found = connection.execute(select(DeadLetter.id, DeadLetter.task_id)
                                               .where(DeadLetter.id > last)).all()
                    connection.commit()
                    for row_id, task_id in found:
                        self.rows.mark(task_id)
                        last = max(last, row_id)
                    time.sleep(poll_s)
        except BaseException as error:  # surfaced by the timeouts of whoever waits for a row
            self.errors.append(error)

    def _consume(self, url: str) -> None:
        def received(body: Any, message: Message) -> None:
            task_id = (message.headers or {}).get("id") or (body or {}).get("id")
            if task_id:
                self.dead_queue.mark(task_id)
            message.ack()

        try:
            with Connection(url) as connection:
                queue = Queue(DEAD_LETTER_QUEUE, DEAD_LETTER_EXCHANGE, routing_key=ORGAN, durable=True)
                # declared by the workers, with its retention: a declaration without it would be refused
                with Consumer(connection, [queue], callbacks=[received], accept=["json"], auto_declare=False):
                    self.dlq_ready.set()
                    while not self.stopping.is_set():
                        with contextlib.suppress(TimeoutError):
                            connection.drain_events(timeout=0.2)
        except BaseException as error:
            self.errors.append(error)
            self.dlq_ready.set()


def wait_seen(seen: Seen, task_id: str, what: str) -> float:
    deadline = time.monotonic() + OBSERVE_TIMEOUT_S
    while (at := seen.get(task_id)) is None:
        if time.monotonic() > deadline:
            raise BenchError(f"{what} of task {task_id} not seen within {OBSERVE_TIMEOUT_S}s")
        time.sleep(0.001)
    return at


# -- latency ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Kind:
    label: str
    send: Callable[[int], AsyncResult]
    has_row: bool


def kinds(app: Celery) -> list[Kind]:
    quick = ONE_QUICK_RETRY.as_header()
    return [
        Kind("skill, permanent error", lambda n: app.tasks["bench.fail_permanent"].apply_async((n,)), True),
        Kind("raw task, exception", lambda n: app.tasks["bench.raw_fail"].apply_async((n,)), False),
        Kind("skill, transient error, 1 retry exhausted",
             lambda n: app.tasks["bench.fail_transient"].apply_async((n,), headers=quick), True),
        Kind("raw task, autoretry, 1 retry exhausted",
             lambda n: app.tasks["bench.raw_fail_retried"].apply_async((n,)), False),
    ]


def one_failure(kind: Kind, n: int, observers: Observers, database: str) -> dict[str, float]:
    """Seconds from the raise of the last attempt to each observation."""
    outcome = kind.send(n)
    outcome.get(timeout=OBSERVE_TIMEOUT_S, propagate=False, interval=0.005)
    result_at = time.time()
    if outcome.state != "FAILURE":
        raise BenchError(f"{kind.label}: call {n} ended {outcome.state}, not FAILURE")
    stamp = STAMP.search(str(outcome.result))
    if stamp is None:
        raise BenchError(f"{kind.label}: no time stamp in {outcome.result!r}")
    failed_at = float(stamp.group(1))
    figures = {"result": result_at - failed_at,
               "queue": wait_seen(observers.dead_queue, outcome.id, "the dead-letter queue message") - failed_at}
    if kind.has_row:
        figures["row"] = wait_seen(observers.rows, outcome.id, "the dead-letter row") - failed_at
        with store.session(database) as s:
            written = s.scalar(select(DeadLetter.created_at).where(DeadLetter.task_id == outcome.id))
        assert written is not None
        figures["written"] = written.timestamp() - failed_at
    return figures


def measure_latency(report: Report, app: Celery, database: str, samples: int) -> None:
    chosen = kinds(app)
    figures: dict[str, dict[str, list[float]]] = {k.label: {"written": [], "row": [], "result": [], "queue": []}
                                                  for k in chosen}
    with Observers(app, database) as observers:
        step("warming up")
        for kind in chosen:
            for n in range(3):
                one_failure(kind, -1 - n, observers, database)
        step(f"latency: {samples} failures of each kind, alternating")
        for n in range(samples):
            for kind in chosen if n % 2 == 0 else reversed(chosen):
                for name, value in one_failure(kind, n, observers, database).items():
                    figures[kind.label][name].append(value)

    def cells(values: list[float]) -> list[Any]:
        if not values:
            return ["-", "-"]
        summary = Summary.of(values)
        return [summary.p50_ms, summary.p95_ms]

    report.table(
        f"Failure to dead letter, production profile (RabbitMQ, Redis results, PostgreSQL): {samples} failures "
        "per kind, one at a time",
        ["failure", "row written p50 (ms)", "p95", "row visible p50 (ms)", "p95", "FAILURE result p50 (ms)",
         "p95", "on organism.dead p50 (ms)", "p95"],
        [[label, *cells(f["written"]), *cells(f["row"]), *cells(f["result"]), *cells(f["queue"])]
         for label, f in figures.items()],
        note="From the raise of the last attempt (its time stamp is in the error message) to: the dead-letter "
             "row's created_at (taken in the worker just before the INSERT); the row seen by a reader polling "
             "every 2 ms (so up to ~2 ms late); the FAILURE result arriving by Redis pub/sub; the message "
             "arriving at a consumer of organism.dead. Organism commits the row before Celery stores the "
             "failure, so whoever sees FAILURE also finds the dead letter.",
        samples={f"{label}: {name} s": values for label, f in figures.items() for name, values in f.items()})


# -- replay -------------------------------------------------------------------------------------------------

def set_gate(open_: bool) -> None:
    client = redis.Redis.from_url(REDIS_RESULTS_URL)
    if open_:
        client.set(GATE, "1")
    else:
        client.delete(GATE)


def drain_dead_queue(app: Celery) -> int:
    with app.connection_for_write() as connection:
        queue = Queue(DEAD_LETTER_QUEUE, DEAD_LETTER_EXCHANGE, routing_key=ORGAN, durable=True)
        return queue(connection.default_channel).purge() or 0


def fail_batch(app: Celery, task_name: str, count: int) -> list[str]:
    """Send ``count`` calls that fail (gate closed) and wait for every FAILURE; return their task ids."""
    set_gate(False)
    calls = [app.tasks[task_name].apply_async((n,)) for n in range(count)]
    ResultSet(calls, app=app).join(timeout=120, propagate=False, interval=0.01)
    states = {call.state for call in calls}
    if states != {"FAILURE"}:
        raise BenchError(f"{task_name}: expected {count} failures, got states {states}")
    return [call.id for call in calls]


def dead_letter_ids(database: str, task_ids: list[str]) -> list[int]:
    wanted = set(task_ids)
    deadline = time.monotonic() + 60
    while True:
        letters = [letter for letter in dead_letters.find(database, skill="bench.gated") if letter.task_id in wanted]
        if len(letters) == len(wanted):
            return [letter.id for letter in letters]
        if time.monotonic() > deadline:
            raise BenchError(f"only {len(letters)} of {len(wanted)} dead letters were written")
        time.sleep(0.05)


def wait_succeeded(app: Celery, task_ids: list[str], timeout_s: float = 120) -> None:
    """Wait until every call has succeeded. A shovelled call keeps its id, and its old FAILURE until it runs:
    the state is read from the backend each time (an AsyncResult caches a ready state once it has seen one)."""
    waiting = list(task_ids)
    deadline = time.monotonic() + timeout_s
    while waiting:
        states = {task_id: app.backend.get_task_meta(task_id, cache=False)["status"] for task_id in waiting}
        waiting = [task_id for task_id, state in states.items() if state != "SUCCESS"]
        if waiting and time.monotonic() > deadline:
            raise BenchError(f"{len(waiting)} replayed calls did not succeed within {timeout_s:.0f}s; states "
                             f"{sorted({states[task_id] for task_id in waiting})}")
        if waiting:
            time.sleep(0.005)


@dataclass(frozen=True)
class Replayed:
    count: int
    published_s: float
    done_s: float


def replay_api(app: Celery, database: str, count: int) -> Replayed:
    ids = dead_letter_ids(database, fail_batch(app, "bench.gated", count))
    set_gate(True)
    began = time.perf_counter()
    new_ids = [replay(app, letter_id).task_id for letter_id in ids]
    published = time.perf_counter()
    wait_succeeded(app, new_ids)
    return Replayed(count, published - began, time.perf_counter() - began)


def replay_cli(app: Celery, database: str, count: int) -> Replayed:
    ids = dead_letter_ids(database, fail_batch(app, "bench.gated", count))
    set_gate(True)
    command = [str(Path(sys.executable).with_name("organism")), "dlq", "replay", "--all", "--skill", "bench.gated"]
    began = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=ROOT)
    published = time.perf_counter()
    if done.returncode != 0:
        raise BenchError(f"{' '.join(command)} exited {done.returncode}: {done.stderr[-500:]}")
    with store.session(database) as s:
        new_ids = list(s.scalars(select(DeadLetter.replayed_as).where(DeadLetter.id.in_(ids))))
    if len([i for i in new_ids if i]) != count:
        raise BenchError(f"the command replayed {len(new_ids)} of {count} dead letters")
    wait_succeeded(app, [i for i in new_ids if i])
    return Replayed(count, published - began, time.perf_counter() - began)


def replay_shovel(app: Celery, count: int) -> Replayed:
    """Raw Celery: move the rejected messages from organism.dead back to the organ queue, as they are."""
    drain_dead_queue(app)
    task_ids = fail_batch(app, "bench.raw_gated", count)
    set_gate(True)
    moved: list[str] = []
    with app.connection_for_write() as connection:
        channel = connection.default_channel
        queue = Queue(DEAD_LETTER_QUEUE, DEAD_LETTER_EXCHANGE, routing_key=ORGAN, durable=True)(channel)
        deadline = time.monotonic() + 60
        while queue.queue_declare(passive=True).message_count < count:
            if time.monotonic() > deadline:
                raise BenchError(f"fewer than {count} rejected messages reached {DEAD_LETTER_QUEUE}")
            time.sleep(0.05)
        producer = connection.Producer(channel)
        began = time.perf_counter()
        while len(moved) < count and (message := queue.get(no_ack=False, accept=["json"])) is not None:
            headers = {k: v for k, v in (message.headers or {}).items() if not k.startswith("x-")}
            producer.publish(message.body, exchange=EXCHANGE, routing_key=ORGAN, headers=headers,
                             content_type=message.content_type, content_encoding=message.content_encoding,
                             delivery_mode=2, retry=True)
            message.ack()
            moved.append(headers["id"])
        published = time.perf_counter()
    if sorted(moved) != sorted(task_ids):
        raise BenchError(f"the shovel moved {len(moved)} messages, expected the {count} failed ones")
    wait_succeeded(app, task_ids)
    return Replayed(count, published - began, time.perf_counter() - began)


def measure_replay(report: Report, app: Celery, database: str, count: int, rounds: int) -> None:
    methods: dict[str, Callable[[], Replayed]] = {
        "dead_letters.replay() per record (Python API)": lambda: replay_api(app, database, count),
        "organism dlq replay --all (one process, incl. start-up)": lambda: replay_cli(app, database, count),
        f"raw Celery: shovel {DEAD_LETTER_QUEUE} back to the queue": lambda: replay_shovel(app, count),
    }
    runs: dict[str, list[Replayed]] = {label: [] for label in methods}
    for i in range(rounds):
        for label in list(methods) if i % 2 == 0 else reversed(list(methods)):
            step(f"replay round {i + 1}/{rounds}: {count} through {label}")
            runs[label].append(methods[label]())

    def rates(done: list[Replayed], seconds: Callable[[Replayed], float]) -> list[Any]:
        values = sorted(r.count / seconds(r) for r in done)
        return [statistics.median(values), f"{values[0]:.0f}-{values[-1]:.0f}"]

    report.table(
        f"Replay throughput, production profile: {count} dead letters per replay, {rounds} rounds per method",
        ["replay", "published p50 (replays/s)", "range", "to last success p50 (replays/s)", "range"],
        [[label, *rates(done, lambda r: r.published_s), *rates(done, lambda r: r.done_s)]
         for label, done in runs.items()],
        note="Rates from the first replay to the last one published, and to the last replayed call's success. "
             "Replay locks the record, marks it replayed and publishes with a confirm, one transaction per "
             "record; the command adds its start-up (about 1 s). The shovel only moves messages: no record, no "
             "status, no idempotence, no --force for unsafe skills. The worker (two pool processes) runs the "
             "replayed calls while the replay goes on, so the end-to-end rate is capped by it.",
        samples={f"{label}: {kind} s": [getattr(r, kind) for r in done]
                 for label, done in runs.items() for kind in ("published_s", "done_s")})


def measure(report: Report) -> None:
    args = report.args
    with cluster("production", MODULES, [ORGAN]) as organism:
        app, database = organism.app, organism.settings.database
        with store.session(database) as s:
            s.execute(delete(DeadLetter).where(DeadLetter.task_name.like("bench.%")))
        drain_dead_queue(app)
        try:
            measure_latency(report, app, database, args.samples)
            measure_replay(report, app, database, args.replays, args.rounds)
        finally:
            set_gate(False)
            drain_dead_queue(app)
            with store.session(database) as s:
                s.execute(delete(DeadLetter).where(DeadLetter.task_name.like("bench.%")))


def arguments() -> argparse.Namespace:
    p = parser(__doc__.split("\n")[0])
    p.add_argument("--samples", type=int, default=50, help="failures per kind for the latency (default 50)")
    p.add_argument("--replays", type=int, default=200, help="dead letters per replay (default 200)")
    p.add_argument("--rounds", type=int, default=3, help="replays per method, alternating (default 3)")
    return p.parse_args()


def run() -> int:
    return main("bench.failures", arguments(), measure)
