"""Worker liveness that does not go through the broker, and readiness of what a process depends on.

Celery's ``inspect ping`` travels through the broker: while the broker is down every worker fails it at once,
and an orchestrator that restarts them all turns one outage into a restart storm. Instead each worker's main
process writes a heartbeat file from a thread of its own every ``heartbeat_interval_s``; ``organism health
worker`` (a docker-compose healthcheck or a Kubernetes exec probe, on the worker's host) checks its age. The
file is written once the worker is ready (its consumer started), and removed when it shuts down cleanly.

Readiness is :func:`readiness`: the broker answers and the store is reachable at the current schema
(:mod:`organism.cli.doctor`'s checks, with their fixes); the console serves it as ``/readyz``.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from organism.cli.doctor import Check, check_broker, check_store
from organism.settings import Settings


@dataclass(frozen=True)
class Heartbeat:
    """What a worker last said about itself; ``at`` is epoch seconds."""

    node: str
    pid: int
    queues: list[str]
    at: float

    def age_s(self, now: float) -> float:
        return now - self.at


def _file(folder: Path, node: str) -> Path:
    return folder / f"{node.replace('/', '_')}.json"


class HeartbeatWriter(threading.Thread):
    """Writes ``node``'s heartbeat into ``folder`` every ``interval_s`` until stopped, then removes it."""

    def __init__(self, folder: Path, node: str, queues: list[str], interval_s: float) -> None:
        super().__init__(name="organism-heartbeat", daemon=True)
        self.path = _file(folder, node)
        self.node, self.queues, self.interval_s = node, queues, interval_s
        self._stopped = threading.Event()

    def beat(self) -> None:
        """Write the file atomically (a reader never sees half of it)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_suffix(".tmp")
        partial.write_text(json.dumps(asdict(Heartbeat(self.node, os.getpid(), self.queues, time.time()))))
        os.replace(partial, self.path)

    def run(self) -> None:
        while True:
            self.beat()
            if self._stopped.wait(self.interval_s):
                return

    def stop(self) -> None:
        self._stopped.set()
        if self.is_alive():
            self.join()
        self.path.unlink(missing_ok=True)


def heartbeats(folder: Path) -> list[Heartbeat]:
    """Every heartbeat in ``folder`` (files being replaced at this moment are skipped)."""
    beats = []
    for path in sorted(folder.glob("*.json")):
        try:
            beats.append(Heartbeat(**json.loads(path.read_text())))
        except (OSError, ValueError, TypeError):
            continue
    return beats


def readiness(settings: Settings) -> list[Check]:
    """Whether the broker and the store are usable, each with the fix when not."""
    return [check_broker(settings), check_store(settings)]
