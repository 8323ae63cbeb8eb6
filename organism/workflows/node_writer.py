"""A worker writes its nodes' start and success here: off the task's critical path, one thread per process.

Two synchronous transactions per node, on the path from one phase to the next, made a tracked run more than
twice as slow as the bare canvas (docs/benchmarks.md). Here the task hands its bookkeeping to a writer thread
and goes on; the writer writes in the order it was given, except that a start waits up to
:data:`START_GRACE_S` for the same node's success, so a short node costs one transaction instead of two.
(``concurrent.futures``' single-thread executor keeps the order but cannot merge two writes; hence this class.)

What follows from the store being a little behind Celery:

* the next phase takes its inputs from the canvas or the result backend, never from node rows
  (``workflow.node_results``);
* failure-path writes, which are synchronous, :func:`flush` this process's queue first, so a node's start can
  never land after its failure;
* a success lost with its process (SIGKILL after Celery stored the result, before the row was written) is
  recovered from the result backend by the watchdog's next round (``workflow.settle``).
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from organism.store.models import utcnow
from organism.workflows import tracking

START_GRACE_S = 0.1
FLUSH_TIMEOUT_S = 30.0
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Start:
    url: str
    task_id: str
    run_id: str
    at: datetime = field(default_factory=utcnow)
    due: float = field(default_factory=lambda: time.monotonic() + START_GRACE_S)


@dataclass(frozen=True)
class _Success:
    url: str
    task_id: str
    run_id: str
    result: Any


class _Writer:
    def __init__(self) -> None:
        self.pid = os.getpid()
        self.queue: queue.SimpleQueue[_Start | _Success | threading.Event] = queue.SimpleQueue()
        threading.Thread(target=self._run, name="organism-node-writer", daemon=True).start()

    def _run(self) -> None:
        waiting: dict[str, _Start] = {}  # starts held back for their success, oldest first
        while True:
            timeout = max(0.0, next(iter(waiting.values())).due - time.monotonic()) if waiting else None
            try:
                item = self.queue.get(timeout=timeout)
            except queue.Empty:
                item = None
            try:
                self._write(item, waiting)
            except Exception:  # the tracking functions log their own store errors; this is anything else
                logger.exception("node bookkeeping: could not handle %r", item)
            if isinstance(item, threading.Event):
                item.set()

    @staticmethod
    def _write(item: _Start | _Success | threading.Event | None, waiting: dict[str, _Start]) -> None:
        if isinstance(item, _Start):
            waiting[item.task_id] = item
        elif isinstance(item, _Success):
            start = waiting.pop(item.task_id, None)
            tracking.node_succeeded(item.url, item.task_id, item.run_id, item.result,
                                    started_at=start.at if start else None)
        flushing, now = isinstance(item, threading.Event), time.monotonic()
        for start in [s for s in waiting.values() if flushing or s.due <= now]:
            del waiting[start.task_id]
            tracking.node_started(start.url, start.task_id, start.run_id)


_writer: _Writer | None = None


def _current() -> _Writer:
    global _writer
    if _writer is None or _writer.pid != os.getpid():  # a forked pool child inherits the object, not its thread
        _writer = _Writer()
    return _writer


def started(url: str, task_id: str, run_id: str) -> None:
    """The node ``task_id`` of run ``run_id`` started (written within :data:`START_GRACE_S`)."""
    _current().queue.put(_Start(url, task_id, run_id))


def succeeded(url: str, task_id: str, run_id: str, result: Any) -> None:
    """The node ``task_id`` of run ``run_id`` returned ``result``."""
    _current().queue.put(_Success(url, task_id, run_id, result))


def flush(timeout_s: float = FLUSH_TIMEOUT_S) -> None:
    """Wait until everything this process handed over is written (at once when it handed over nothing)."""
    if _writer is not None and _writer.pid == os.getpid():
        done = threading.Event()
        _writer.queue.put(done)
        if not done.wait(timeout_s):
            logger.warning("node bookkeeping still queued after %.0fs; going on without it", timeout_s)
