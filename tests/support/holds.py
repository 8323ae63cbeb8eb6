"""A skill that keeps its run's node busy until the test lets it go: a condition, not a fixed sleep.

The skill waits for a release file of its run in the workers' data folder (a file, so it works while a broker or
Redis is down), at most ``at_most_s``; the test touches the file with :func:`release` when it is done with the node.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from organism.settings import Settings


def _release_file(data_dir: Path, run_id: str | None) -> Path:
    return data_dir / f"release-{run_id}"


def hold(at_most_s: float) -> None:
    """In a skill: wait until the test releases this call's run, or ``at_most_s`` has passed."""
    from celery import current_app, current_task

    from organism.headers import run_of

    released = _release_file(current_app.settings.data_dir, run_of(current_task.request))
    hold_until(released.exists, at_most_s)


def hold_until(condition: Callable[[], bool], at_most_s: float) -> None:
    """In a skill: wait until ``condition`` holds, or ``at_most_s`` has passed (the skill then goes on)."""
    deadline = time.monotonic() + at_most_s
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)


def release(settings: Settings, run_id: str) -> None:
    """Let every held skill of ``run_id`` finish."""
    _release_file(settings.data_dir, run_id).touch()
