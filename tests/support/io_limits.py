"""Skills of an I/O-bound organ (judgment, on threads) that overrun its time limits, for
tests/integration/test_io_limits.py. Each notes what happened to it in Redis under the test's marker."""

from __future__ import annotations

import time

import redis
import requests
from celery.exceptions import SoftTimeLimitExceeded

from organism.failures.thread_limits import remaining_s
from organism.skill import skill
from tests.support.faulty import SIDE_EFFECTS

QUICK_RETRY = {"max_retries": 1, "backoff_base_s": 0.0, "jitter": 0.0}


def _note(marker: str, what: str) -> None:
    redis.Redis.from_url(SIDE_EFFECTS).rpush(f"{marker}:{what}", time.time())


@skill(organ="judgment", name="test.io.ask", effect="read-only", retry=QUICK_RETRY)
def ask(base_url: str, marker: str) -> int:
    """Ask a model server for a completion, its timeout what is left of the call's soft limit."""
    _note(marker, "asked")
    response = requests.post(f"{base_url}/chat/completions", timeout=remaining_s(),
                             json={"model": "fake-model", "messages": [{"role": "user", "content": "hello"}]})
    return response.status_code


@skill(organ="judgment", name="test.io.stubborn", effect="read-only", retry=QUICK_RETRY)
def stubborn(marker: str, seconds: float) -> str:
    """Work on for ``seconds`` whatever the soft limit says (noting each interruption), then note the end."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            time.sleep(0.05)
        except SoftTimeLimitExceeded:
            _note(marker, "interrupted")
    _note(marker, "ended")
    return "finished late"


@skill(organ="judgment", name="test.io.partial", effect="read-only")
def partial() -> str:
    """Work until the soft limit, then return what was done (a skill may catch the interruption, as on prefork)."""
    try:
        while True:
            time.sleep(0.05)
    except SoftTimeLimitExceeded:
        return "partial"
