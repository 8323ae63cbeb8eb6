"""Flower's memory across restarts, without pickle: the task events it received, kept as JSON lines.

Flower holds what it knows of tasks in memory; its persistent mode saves that state with shelve, a pickle, which
Organism does not load (``organism flower`` refuses it). :class:`PersistentEvents` is Flower's event thread with
two additions: every task event it receives is appended to an :class:`EventLog` (``<data_dir>/flower/
events.jsonl``, one event a line, as Celery sent it: its values are redacted at the source, events.py), and before
it subscribes, the log is replayed into Flower's state, so a restarted Flower still shows the tasks it saw, with
their names, states, times, arguments and results. Worker events are not kept: Flower asks the workers which are
alive.

The log keeps the events of the newest ``flower_kept_tasks`` tasks: it is compacted to them at start and whenever
it has grown to twice its size. A line that is no task event (a crash cut it short, someone edited the file) is
skipped with one warning naming the file and the line, and moved to ``events.jsonl.rejected``: nothing is lost.
"""

from __future__ import annotations

import json
import logging
import os
from collections import OrderedDict
from functools import partial
from pathlib import Path
from typing import Any

from celery.events.state import State
from flower.events import Events

logger = logging.getLogger(__name__)
LOG_NAME = "events.jsonl"
# What Celery's state needs of a task event (celery.events.state.State._create_dispatcher).
REQUIRED = ("type", "uuid", "hostname", "timestamp", "local_received", "clock")
EVENTS_PER_TASK = 4  # received, started, an outcome, and one to spare: sizes the first compaction


def log_path(data_dir: Path) -> Path:
    """Where ``organism flower`` keeps its events."""
    return data_dir / "flower" / LOG_NAME


def _problem(line: str) -> tuple[dict[str, Any] | None, str]:
    """The task event a line holds, or None and what is wrong with it."""
    try:
        event = json.loads(line)
    except ValueError:
        return None, "not JSON"
    if not isinstance(event, dict):
        return None, "not a JSON object"
    missing = [name for name in REQUIRED if name not in event]
    if missing:
        return None, f"no {', '.join(missing)}"
    if not str(event["type"]).startswith("task-"):
        return None, f"a {event['type']!r} event, not a task's"
    return event, ""


class EventLog:
    """An append-only file of task events, bounded to those of the newest ``kept_tasks`` tasks."""

    def __init__(self, path: Path, kept_tasks: int) -> None:
        self.path = path
        self.kept_tasks = kept_tasks
        self._lines = 0
        self._compact_at = 0
        self._failing = False

    def load(self) -> list[dict[str, Any]]:
        """The kept events, oldest first, after compacting the file to them."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.touch()
        return self._compact()

    def append(self, event: dict[str, Any]) -> None:
        """Add one event; a write that fails is logged once until one succeeds, and never stops Flower."""
        try:
            with self.path.open("a", encoding="utf-8") as out:
                out.write(json.dumps(event, separators=(",", ":"), ensure_ascii=False, default=str) + "\n")
            self._lines += 1
            if self._lines >= self._compact_at:
                self._compact()
            self._failing = False
        except OSError as error:
            if not self._failing:
                logger.error("flower: cannot keep task events in %s: %s", self.path, error)
            self._failing = True

    def _compact(self) -> list[dict[str, Any]]:
        """Rewrite the file with the events of the newest tasks (by their last event) and return those."""
        by_task: OrderedDict[str, list[tuple[int, dict[str, Any]]]] = OrderedDict()
        rejected: list[str] = []
        first_problem = ""
        with self.path.open(encoding="utf-8", errors="replace") as lines:
            for number, line in enumerate(lines, 1):
                event, problem = _problem(line)
                if event is None:
                    first_problem = first_problem or f"line {number}: {problem}"
                    rejected.append(line if line.endswith("\n") else line + "\n")
                    continue
                uuid = str(event["uuid"])
                by_task.setdefault(uuid, []).append((number, event))
                by_task.move_to_end(uuid)
        kept = sorted((entry for task in list(by_task.values())[-self.kept_tasks:] for entry in task),
                      key=lambda entry: entry[0])
        if rejected:
            aside = self.path.with_name(self.path.name + ".rejected")
            with aside.open("a", encoding="utf-8") as out:
                out.writelines(rejected)
            logger.warning("flower: %d line(s) of %s are no task event (the first, %s); moved to %s",
                           len(rejected), self.path, first_problem, aside)
        fresh = self.path.with_name(self.path.name + ".new")
        with fresh.open("w", encoding="utf-8") as out:
            out.writelines(json.dumps(event, separators=(",", ":"), ensure_ascii=False, default=str) + "\n"
                           for _, event in kept)
        os.replace(fresh, self.path)
        self._lines = len(kept)
        self._compact_at = max(2 * self._lines, EVENTS_PER_TASK * self.kept_tasks)
        return [event for _, event in kept]


class PersistentEvents(Events):
    """Flower's event thread, starting from the events ``log`` kept and keeping each task event it receives."""

    def __init__(self, *args: Any, log: EventLog, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.log = log
        for event in log.load():
            # Celery's own bookkeeping only: Flower's Prometheus counters count the events received by this
            # process, and its per-worker counts list only workers heard from since it started.
            State.event(self.state, event)
        self.state.search_engine.rebuild(self.state.tasks.items())
        logger.info("flower: %d task(s) remembered from %s", len(self.state.tasks), log.path)

    def on_event(self, event: dict[str, Any]) -> None:
        if str(event.get("type", "")).startswith("task-"):
            self.log.append(event)
        super().on_event(event)


def install(data_dir: Path, kept_tasks: int) -> None:
    """Make Flower's app run :class:`PersistentEvents` on the log in ``data_dir`` instead of its own thread."""
    from flower import app

    app.Events = partial(PersistentEvents, log=EventLog(log_path(data_dir), kept_tasks))
