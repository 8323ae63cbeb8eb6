"""The headers that tie a task message to a workflow run: which run, and which of its nodes."""

from __future__ import annotations

from typing import Any

RUN_HEADER = "organism_run"
NODE_HEADER = "organism_node"


def run_of(request: Any) -> str | None:
    """The run id a Celery request belongs to, if any (a run header that is not text names no run)."""
    return run_id_of(getattr(request, RUN_HEADER, None))


def run_id_of(value: Any) -> str | None:
    """``value`` if it can be a run id (non-empty text), else None."""
    return value if isinstance(value, str) and value else None
