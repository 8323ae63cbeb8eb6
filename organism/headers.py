"""The headers that tie a task message to a workflow run (which run, and which of its nodes), and when it was sent."""

from __future__ import annotations

import json
from typing import Any

RUN_HEADER = "organism_run"
NODE_HEADER = "organism_node"
# When a message was published, in epoch seconds (clocks in sync: NTP): queue ages, the meridian latency, and the
# dead-letter queue's retention on Redis and the SQL transport read it.
PUBLISHED_HEADER = "organism_published_at"


def run_of(request: Any) -> str | None:
    """The run id a Celery request belongs to, if any (a run header that is not text names no run)."""
    return run_id_of(getattr(request, RUN_HEADER, None))


def run_id_of(value: Any) -> str | None:
    """``value`` if it can be a run id (non-empty text), else None."""
    return value if isinstance(value, str) and value else None


def published_at(envelope: str | bytes) -> float | None:
    """The :data:`PUBLISHED_HEADER` of a raw message envelope (kombu's JSON, as Redis and the SQL transport hold
    it), if it carries one."""
    try:
        stamp = json.loads(envelope).get("headers", {}).get(PUBLISHED_HEADER)
        return float(stamp) if stamp is not None else None
    except (ValueError, TypeError, AttributeError):
        return None
