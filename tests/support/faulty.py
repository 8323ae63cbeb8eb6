"""Skills that fail on purpose, for the failure-handling tests."""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import redis
import requests

from organism.errors import PermanentError, TransientError
from organism.skill import skill

SIDE_EFFECTS = "redis://127.0.0.1:6379/10"


@skill(organ="perception", name="test.fetch", effect="read-only")
def fetch(url: str) -> dict[str, Any]:
    """GET a URL; HTTP errors are classified by status (429/5xx retry, other 4xx are permanent)."""
    response = requests.get(url, timeout=5)
    response.raise_for_status()
    return response.json()  # type: ignore[no-any-return]


@skill(organ="perception", name="test.refuse", effect="read-only")
def refuse(reason: str) -> None:
    raise PermanentError(reason)


@skill(organ="perception", name="test.fail_with", effect="read-only",
       retry={"max_retries": 1, "backoff_base_s": 0.0, "jitter": 0.0})
def fail_with(text: str, times: int = 1, transient: bool = False) -> None:
    """Fail with ``text`` repeated ``times`` as the error: permanently, or transiently (one quick retry)."""
    raise (TransientError if transient else PermanentError)(text * times)


@skill(organ="perception", name="test.crash", effect="unsafe")
def crash(marker: str) -> None:
    """Kill the process that runs it, every time: a poison message."""
    redis.Redis.from_url(SIDE_EFFECTS).rpush(f"crash:{marker}", os.getpid())
    os.kill(os.getpid(), signal.SIGKILL)


@skill(organ="perception", name="test.apply", effect="idempotent")
def apply(key: str, work_s: float = 0.0) -> str:
    """Work a while, then record ``key`` once more: a side effect that shows a duplicate run."""
    time.sleep(work_s)
    redis.Redis.from_url(SIDE_EFFECTS).rpush("applied", key)
    return key
