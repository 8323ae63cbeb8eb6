"""Skills that outgrow their organ's worker limits, for tests/integration/test_organ_limits.py."""

from __future__ import annotations

import os
import resource
import time

import redis
from celery.exceptions import SoftTimeLimitExceeded

from organism.errors import SkillTimeout
from organism.skill import skill
from tests.support.faulty import SIDE_EFFECTS

QUICK_RETRY = {"max_retries": 1, "backoff_base_s": 0.0, "jitter": 0.0}
_LEAKED: list[bytes] = []  # what test.leak keeps for the life of its process


@skill(organ="perception", name="test.leak", effect="read-only")
def leak(mb: int) -> dict[str, int]:
    """Keep ``mb`` MiB for good, as a leak does; say which process ran it, and its peak memory before the call."""
    peak_before_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024  # Linux counts KiB
    _LEAKED.append(b"\xff" * (mb * 2**20))  # written, so every page is resident
    return {"pid": os.getpid(), "peak_before_mb": peak_before_mb}


def _overrun(marker: str, seconds: float, ignore_soft_limit: bool) -> None:
    """Note this attempt's process under ``marker``, then sleep ``seconds``; past the soft limit, go on sleeping
    if told to ignore it (so that the hard limit kills the process)."""
    redis.Redis.from_url(SIDE_EFFECTS).rpush(f"overrun:{marker}", os.getpid())
    try:
        time.sleep(seconds)
    except SoftTimeLimitExceeded:
        if not ignore_soft_limit:
            raise
        time.sleep(seconds)


@skill(organ="perception", name="test.overrun", effect="read-only", retry=QUICK_RETRY)
def overrun(marker: str, seconds: float, ignore_soft_limit: bool = False) -> None:
    """Run past the organ's time limits: a timeout is transient, so it is retried once, then dead-lettered."""
    _overrun(marker, seconds, ignore_soft_limit)


@skill(organ="perception", name="test.overrun_hopeless", effect="read-only", retry=QUICK_RETRY,
       permanent=(SkillTimeout,))
def overrun_hopeless(marker: str, seconds: float, ignore_soft_limit: bool = False) -> None:
    """The same, from a skill that declares a timeout hopeless: dead-lettered at once."""
    _overrun(marker, seconds, ignore_soft_limit)
