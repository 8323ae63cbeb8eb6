"""What `organism flower` adds to Flower, without a broker: the task events it keeps across restarts (JSON lines,
bounded, bad lines set aside), replayed into Flower's own state; the management API its Broker page reads; the
zone its tasks table names. (test_flower_pages.py runs them with live workers.)"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from celery import Celery
from flower.views.tasks import TASK_COLUMNS
from tornado.ioloop import IOLoop

from organism.brokers import broker_for
from organism.cli.ops import _broker_api
from organism.observability.flower_events import EventLog, PersistentEvents
from organism.observability.flower_server import name_the_zone
from organism.settings import Settings


def _event(kind: str, uuid: str, at: float, **fields: Any) -> dict[str, Any]:
    return {"type": f"task-{kind}", "uuid": uuid, "hostname": "perception@host", "timestamp": at,
            "local_received": at + 0.01, "clock": int(at), "utcoffset": 0, "pid": 7, **fields}


def _lifetime(uuid: str, at: float, name: str = "test.echo") -> list[dict[str, Any]]:
    return [_event("received", uuid, at, name=name, args="[1]", kwargs="{}"), _event("started", uuid, at + 1),
            _event("succeeded", uuid, at + 2, result="{'value': 1}", runtime=1.5)]


def test_the_log_keeps_the_events_of_the_newest_tasks_and_stays_bounded(tmp_path: Path) -> None:
    path = tmp_path / "flower" / "events.jsonl"
    log = EventLog(path, kept_tasks=3)
    assert log.load() == []

    for number in range(40):
        for event in _lifetime(f"task-{number}", 1000.0 + number):
            log.append(event)
        assert len(path.read_text().splitlines()) <= 4 * 3 * 2  # never more than twice what it keeps

    kept = EventLog(path, kept_tasks=3).load()
    assert [event["uuid"] for event in kept] == [f"task-{n}" for n in (37, 38, 39) for _ in range(3)]
    assert kept[:3] == _lifetime("task-37", 1037.0)
    assert len(path.read_text().splitlines()) == 9


def test_a_task_still_running_is_newer_than_one_received_after_it(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    log = EventLog(path, kept_tasks=2)
    log.load()
    old, newer, newest = (_lifetime(uuid, at) for uuid, at in (("old", 1.0), ("newer", 2.0), ("newest", 3.0)))
    for event in (old[0], newer[0], newest[0], old[1], old[2]):  # "old" finishes last
        log.append(event)

    assert {event["uuid"] for event in EventLog(path, kept_tasks=2).load()} == {"old", "newest"}


def test_lines_that_are_no_task_event_are_set_aside_with_one_warning(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "events.jsonl"
    good = _lifetime("kept", 5.0)
    worker_event = {"type": "worker-heartbeat", "hostname": "h", "timestamp": 1, "local_received": 1, "clock": 1,
                    "uuid": "x"}
    lines = [json.dumps(good[0]), '{"type": "task-started", "uuid": "cut', json.dumps(worker_event),
             json.dumps([1, 2]), json.dumps({"type": "task-started"}), json.dumps(good[1])]
    path.write_text("\n".join(lines))  # the last line has no newline: a crash cut it there

    with caplog.at_level(logging.WARNING):
        kept = EventLog(path, kept_tasks=10).load()

    assert kept == good[:2]
    assert path.with_name("events.jsonl.rejected").read_text().splitlines() == lines[1:5]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert f"4 line(s) of {path} are no task event (the first, line 2: not JSON)" in warnings[0]
    EventLog(path, kept_tasks=10).load()  # set aside once: nothing left to warn about
    assert len(path.with_name("events.jsonl.rejected").read_text().splitlines()) == 4


def test_a_write_that_fails_is_logged_once_and_never_raises(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    log = EventLog(tmp_path / "events.jsonl", kept_tasks=10)
    log.load()
    (tmp_path / "events.jsonl").unlink()
    (tmp_path / "events.jsonl").mkdir()  # the file's place is taken: every write fails
    with caplog.at_level(logging.ERROR):
        for event in _lifetime("lost", 1.0):
            log.append(event)

    assert [r.getMessage() for r in caplog.records].count(
        f"flower: cannot keep task events in {tmp_path / 'events.jsonl'}: "
        f"[Errno 21] Is a directory: '{tmp_path / 'events.jsonl'}'") == 1


def _flower_events(log: EventLog) -> PersistentEvents:
    return PersistentEvents(Celery("flower-test", set_as_current=False), IOLoop(make_current=False), log=log,
                            max_tasks_in_memory=100, max_workers_in_memory=10)


def test_flower_starts_from_the_kept_events_and_keeps_what_it_receives(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    log = EventLog(path, kept_tasks=10)
    log.load()
    for event in _lifetime("seen-before", 100.0, name="test.judge"):
        log.append(event)

    events = _flower_events(EventLog(path, kept_tasks=10))
    task = events.state.tasks["seen-before"]
    assert (task.name, task.state, task.args, task.result) == ("test.judge", "SUCCESS", "[1]", "{'value': 1}")
    assert task.received == 100.0 and task.succeeded == 102.0
    assert events.state.search_engine is not None and dict(events.state.counter) == {}  # counts are this run's

    events.on_event(_event("started", "seen-now", 200.0, name="test.echo"))
    events.on_event({"type": "worker-heartbeat", "hostname": "perception@host", "timestamp": 200.0,
                     "local_received": 200.0, "clock": 1})
    assert [json.loads(line)["uuid"] for line in path.read_text().splitlines()][-1] == "seen-now"
    assert len(path.read_text().splitlines()) == 4  # worker events are not kept
    assert _flower_events(EventLog(path, kept_tasks=10)).state.tasks["seen-now"].name == "test.echo"


@pytest.mark.parametrize(("broker", "api"), [
    ("amqp://guest:guest@127.0.0.1:5672/organism_test", "http://guest:guest@127.0.0.1:15672/api/"),
    ("amqp://organism:s3cret@rabbitmq:5672//", "http://organism:s3cret@rabbitmq:15672/api/"),
    ("amqps://monitor:p%40ss@rabbit.example/prod", "https://monitor:p%40ss@rabbit.example:15671/api/"),
    ("pyamqp://", "http://guest:guest@localhost:15672/api/"),
    ("amqp://u:p@[::1]:5672//", "http://u:p@[::1]:15672/api/"),
    ("redis://127.0.0.1:6379/0", None),
])
def test_the_management_api_of_a_broker(broker: str, api: str | None) -> None:
    assert broker_for(broker).management_api == api


def test_a_setting_names_another_management_api() -> None:
    broker = "amqp://organism:s3cret@rabbitmq:5672//"
    assert _broker_api(Settings(broker_url=broker)) == "http://organism:s3cret@rabbitmq:15672/api/"
    given = Settings(broker_url=broker, observability={"flower_broker_api": "https://monitor:pw@mq.example/api/"})
    assert _broker_api(given) == "https://monitor:pw@mq.example/api/"
    assert _broker_api(Settings(broker_url="redis://127.0.0.1:6379/0")) is None


def test_the_tasks_table_names_the_zone_of_its_times() -> None:
    columns = dict(TASK_COLUMNS)
    name_the_zone(columns, "Asia/Kathmandu")

    assert columns["received"] == "Received (Asia/Kathmandu)" and columns["started"] == "Started (Asia/Kathmandu)"
    assert columns["name"] == TASK_COLUMNS["name"]
