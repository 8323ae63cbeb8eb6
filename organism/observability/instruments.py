"""What worker processes measure as tasks run: skill durations by outcome, retries, and the meridian latency.

A prefork worker runs its tasks in child processes, each with its own memory, so these use prometheus_client's
multiprocess mode: every process writes its samples to memory-mapped files in one folder, and the exporter
sums the folder at scrape time (collector.py). That keeps recording off the network (a few memory writes per
task) and makes numbers survive a child's replacement. File names carry the host name as well as the pid, so
workers on several hosts (containers) may share one volume. Everything the broker or the store already knows
(queue depth, dead letters, tokens, runs) is not recorded here; it is read when scraped.

Labels are bounded: a skill is a declared task name, an organ one of the configured organs (``other``
otherwise), an outcome one of :class:`Outcome`. No task ids.
"""

from __future__ import annotations

import enum
import functools
import os
import socket
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import Counter, Histogram, values

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"  # prometheus_client reads the folder from here, in every process
DURATION_BUCKETS_S = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
LATENCY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)


class Outcome(enum.StrEnum):
    """How one attempt of a task ended."""

    SUCCEEDED = "succeeded"
    DEGRADED = "degraded"  # succeeded without an optional dependency
    RETRIED = "retried"  # a retry or a deferral was scheduled
    FAILED = "failed"  # gave up: a skill's failure is dead-lettered
    OTHER = "other"  # rejected or ignored


OTHER = Outcome.OTHER.value  # also the label value of any skill or organ outside the known ones


@dataclass(frozen=True)
class Instruments:
    """One process's worker-side instruments."""

    skill_duration: Histogram
    skill_retries: Counter
    meridian_latency: Histogram


def enable_multiprocess(folder: Path) -> None:
    """Make this process, and the children it forks later, write samples into ``folder``.

    Call it in a worker's main process before its pool starts and before any instrument exists.
    """
    folder.mkdir(parents=True, exist_ok=True)
    # prometheus_client's one documented switch; setting it here keeps the folder a setting like any other.
    os.environ[MULTIPROC_ENV] = str(folder.resolve())
    # prometheus_client asks for the process id on every write (to notice a fork): the host name is read once.
    host = socket.gethostname().replace("_", "-")
    values.ValueClass = values.MultiProcessValue(lambda: f"{host}-{os.getpid()}")


@functools.cache
def instruments() -> Instruments:
    """This process's instruments, made on first use (in a pool child, after the fork)."""
    return Instruments(
        skill_duration=Histogram("organism_skill_duration_seconds", "Time one attempt of a task took, by outcome.",
                                 ["skill", "organ", "outcome"], buckets=DURATION_BUCKETS_S),
        skill_retries=Counter("organism_skill_retries_total", "Retries scheduled, by kind: transient errors "
                              "spend an attempt, deferrals (circuit open, no permit, paused) do not.",
                              ["skill", "organ", "kind"]),
        meridian_latency=Histogram("organism_meridian_latency_seconds", "Time from publish (or the ETA, if "
                                   "later) to the start of the task, by organ queue.", ["organ"],
                                   buckets=LATENCY_BUCKETS_S),
    )
