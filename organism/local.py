"""Worker processes on this machine, one per organ, for `organism sync --local-workers` and the tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

from organism.organ_settings import OrganWorker
from organism.settings import Settings


def worker_command(settings: Settings, organs: list[str], concurrency: int | None = None,
                   name: str | None = None, loglevel: str = "INFO") -> list[str]:
    """The ``celery worker`` command line serving ``organs`` (the same thing `organism worker` runs).

    Its pool, prefetch and limits are the first organ's (:meth:`Settings.worker`); serving several organs, it
    takes the largest concurrency among them unless ``concurrency`` is given.
    """
    worker = settings.worker(organs[0])
    if concurrency is None:
        concurrency = max(settings.worker(organ).concurrency for organ in organs)
    return [sys.executable, "-m", "celery", "-A", "organism.app", "worker",
            "-Q", ",".join(organs), "-n", f"{name or '+'.join(organs)}@%h", *worker_options(worker, concurrency),
            "--loglevel", loglevel, "--without-gossip", "--without-mingle"]


def worker_options(worker: OrganWorker, concurrency: int | None = None) -> list[str]:
    """The ``celery worker`` options that carry ``worker``'s pool, concurrency, prefetch and limits.

    The time and child limits go only to a prefork pool, the one that applies them: a thread pool would take the
    flags and ignore them. Each skill's time limits reach its task as its organ's (SkillTask), so a worker serving
    several organs still holds each skill to its own organ's; the flags are the pool's default for anything else.
    """
    options = ["-P", worker.pool, "-c", str(concurrency or worker.concurrency),
               "--prefetch-multiplier", str(worker.prefetch)]
    if worker.pool != "prefork":
        return options
    options += ["--soft-time-limit", f"{worker.soft_time_limit_s:g}", "--time-limit", f"{worker.time_limit_s:g}"]
    if worker.max_tasks_per_child:
        options += ["--max-tasks-per-child", str(worker.max_tasks_per_child)]
    if worker.max_memory_per_child_mb:
        options += ["--max-memory-per-child", str(worker.max_memory_per_child_mb * 1024)]  # Celery counts KiB
    return options


class LocalWorkers:
    """Start one worker process per organ; stop them all on exit (TERM, then KILL after a grace period)."""

    def __init__(self, settings: Settings, env: dict[str, str] | None = None, log_dir: Path | None = None,
                 organs: list[str] | None = None) -> None:
        self.settings = settings
        self.env = {**os.environ, **(env or {})}
        self.log_dir = log_dir or settings.data_dir / "logs"
        self.organs = organs or list(settings.organs)
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def __enter__(self) -> LocalWorkers:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for organ in self.organs:
            self.start(organ)
        return self

    def start(self, organ: str) -> subprocess.Popen[bytes]:
        log = (self.log_dir / f"worker-{organ}.log").open("ab")
        process = subprocess.Popen(worker_command(self.settings, [organ]), env=self.env,
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.processes[organ] = process
        return process

    def log_tail(self, organ: str, lines: int = 20) -> str:
        path = self.log_dir / f"worker-{organ}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def dead(self) -> list[str]:
        """Organs whose worker process has exited."""
        return [organ for organ, p in self.processes.items() if p.poll() is not None]

    def stop(self, grace_s: float = 10, organs: list[str] | None = None) -> None:
        """Stop the workers of ``organs`` (default: all), killing any still running after ``grace_s``."""
        stopping = [self.processes.pop(organ) for organ in (list(self.processes) if organs is None else organs)]
        for process in stopping:
            if process.poll() is None:  # TERM to the main process only: it stops its pool children itself
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        for process in stopping:
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
