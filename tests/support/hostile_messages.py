"""Randomly malformed task messages, and the judge of what a worker made of each.

The property both the test (tests/integration/test_message_fuzz.py) and the longer campaign
(bench/fuzz_messages.py) hold a worker to: whatever a message's headers, properties and body, the worker's main
process lives on, and the message ends as a success, a retry, or exactly one dead-letter record.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st
from kombu import Exchange
from sqlalchemy import func, select

from organism.app import Organism
from organism.local import LocalWorkers
from organism.store import session
from organism.store.models import DeadLetter

EXCHANGE = Exchange("organism", type="direct")
QUEUE = "perception"
TASKS = ("test.echo", "test.scan", "no.such.skill", "")

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20)


def _nested(depth: int) -> list[Any]:
    value: list[Any] = [1]
    for _ in range(depth - 1):
        value = [value]
    return value


# Bodies: well-shaped calls (some with arguments the skill refuses), wrong shapes, deep and large ones.
bodies = st.one_of(
    st.tuples(st.lists(st.integers(0, 100), max_size=2), st.just({}), st.just({})).map(list),
    st.tuples(st.lists(json_values, max_size=3), st.dictionaries(st.text(max_size=8), json_values, max_size=3),
              st.dictionaries(st.sampled_from(["callbacks", "errbacks", "chain", "chord", "group"]), json_values,
                              max_size=2)).map(list),
    json_values,
    st.integers(90, 700).map(lambda depth: [[_nested(depth)], {}, {}]),
    st.integers(1, 12 * 2**20).map(lambda size: [["x" * size], {}, {}]),
)
# Headers: Celery's and Organism's, each left out, well-formed, or any JSON value at all; and a stranger.
_WELL_FORMED = {
    "lang": "py", "root_id": "4a7c1e1e-53a1-4e44-9a4e-0e0b8f5e1c11", "parent_id": None, "group": None, "retries": 0,
    "timelimit": [None, None], "eta": None, "expires": None, "argsrepr": "(5,)", "kwargsrepr": "{}",
    "origin": "gen1@fuzz", "shadow": None, "stamped_headers": [], "stamps": {}, "organism_node": "q1.scan",
    "organism_run": "0f5e1d6c-1a2b-4c3d-8e9f-000000000000", "organism_retry": {"max_retries": 1},
    "organism_replay_of": None, "organism_attempts": 0, "x-stranger": "hello",
}  # (ignore_result is left out: a call that stores no result could not be told from one that never ended.)
headers = st.fixed_dictionaries(
    {"task": st.sampled_from(TASKS) | st.sampled_from(TASKS) | json_values,
     "id": st.just("fresh") | st.just("fresh") | json_values},
    optional={name: st.just(value) | json_values for name, value in _WELL_FORMED.items()},
)
encodings = st.sampled_from([
    ("json", None, None), ("json", None, None), ("json", None, None),
    (None, "application/json", "utf-8"), (None, "application/json", "latin-1"), (None, "text/plain", "utf-8"),
    (None, "application/x-python-serialize", "binary"), (None, "application/x-yaml", "utf-8"),
])
properties = st.fixed_dictionaries({}, optional={"priority": st.integers(0, 255),
                                                 "correlation_id": st.text(max_size=20)})


well_formed_headers = st.fixed_dictionaries({"task": st.just("test.echo"), "id": st.just("fresh")},
                                            optional={name: st.just(value) for name, value in _WELL_FORMED.items()})
well_formed_bodies = st.integers(0, 100).map(lambda value: [[value], {}, {}])


@st.composite
def hostile_messages(draw: st.DrawFn) -> Hostile:
    """A third each: a well-formed call, a well-formed call with one thing wrong, and chaos."""
    kind = draw(st.sampled_from(["well-formed", "one fault", "chaos"]))
    chosen = dict(draw(headers if kind == "chaos" else well_formed_headers))
    body = draw(bodies if kind == "chaos" else well_formed_bodies)
    serializer, content_type, encoding = draw(encodings) if kind == "chaos" else ("json", None, None)
    if kind == "one fault":
        fault = draw(st.sampled_from(["header", "body", "encoding"]))
        if fault == "header":
            chosen[draw(st.sampled_from(["task", "id", *_WELL_FORMED]))] = draw(json_values)
        elif fault == "body":
            body = draw(bodies)
        else:
            serializer, content_type, encoding = draw(encodings)
    if chosen.get("id") == "fresh":
        chosen["id"] = str(uuid.uuid4())
    elif isinstance(chosen.get("id"), str):  # two messages with one id are one task, with one record: keep ids apart
        chosen["id"] = f"{uuid.uuid4().hex[:8]}{chosen['id']}"
    if serializer is None:
        body = draw(st.binary(max_size=200)) if draw(st.booleans()) else json.dumps(body).encode()
    return Hostile(chosen, draw(properties), body, serializer, content_type, encoding)


@dataclass
class Hostile:
    headers: dict[str, Any]
    properties: dict[str, Any]
    body: Any
    serializer: str | None
    content_type: str | None
    content_encoding: str | None

    @property
    def task_id(self) -> str | None:
        found = self.headers.get("id")
        return found if isinstance(found, str) else None


@dataclass
class Tally:
    """How the messages of a campaign ended."""

    outcomes: Counter[str] = field(default_factory=Counter)

    def line(self) -> str:
        return ", ".join(f"{count} {outcome}" for outcome, count in sorted(self.outcomes.items()))


class WorkerDied(AssertionError):
    pass


def dead_letters(app: Organism) -> int:
    with session(app.settings.database) as s:
        return s.scalar(select(func.count()).select_from(DeadLetter)) or 0


def send(app: Organism, message: Hostile) -> bool:
    """Publish ``message`` to the perception queue; False if the client itself refused to send it."""
    options: dict[str, Any] = {"serializer": message.serializer} if message.serializer else {
        "content_type": message.content_type, "content_encoding": message.content_encoding}
    try:
        with app.producer_or_acquire() as producer:
            producer.publish(message.body, exchange=EXCHANGE, routing_key=QUEUE, headers=message.headers,
                             retry=False, **options, **message.properties)
    except Exception:  # the client could not encode it (a header AMQP cannot carry): no message exists
        return False
    return True


def judge(app: Organism, workers: LocalWorkers, message: Hostile, tally: Tally, timeout_s: float = 30) -> None:
    """Send ``message`` and wait for its end: a success, or exactly one new dead letter; the worker lives on."""
    process = workers.processes[QUEUE]
    before = dead_letters(app)
    if not send(app, message):
        tally.outcomes["refused by the client"] += 1
        return
    deadline = time.monotonic() + timeout_s
    outcome = None
    while outcome is None:
        if process.poll() is not None:
            raise WorkerDied(f"the worker's main process exited on {_short(message)}:\n{workers.log_tail(QUEUE)}")
        if dead_letters(app) > before:
            outcome = "dead-lettered"
        elif message.task_id and app.AsyncResult(message.task_id).state == "SUCCESS":
            outcome = "succeeded"
        elif message.task_id and app.AsyncResult(message.task_id).state == "RETRY":
            outcome = "retrying"
        elif time.monotonic() > deadline:
            raise AssertionError(f"no success and no dead letter {timeout_s:.0f} s after {_short(message)}")
        else:
            time.sleep(0.02)
    time.sleep(0.05)  # a second record would follow the first closely
    assert dead_letters(app) - before <= 1, f"more than one dead letter for {_short(message)}"
    tally.outcomes[outcome] += 1


def _short(message: Hostile) -> str:
    return repr(message)[:400]
