"""Dead letters written straight into the store, as a worker writes them, for tests of what shows them."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import update

from organism.failures import dead_letters
from organism.store import session
from organism.store.models import DeadLetter

WINDOW = {"start": "2026-03-31T06:00:00+08:00", "end": "2026-04-01T06:00:00+08:00"}


def record_letter(url: str, task_name: str = "test.scan", args: list[object] | None = None,
                  run_id: str | None = None, node: str | None = None, error: str = "source did not answer in 30s",
                  at: datetime | None = None) -> int:
    """Record a dead letter of ``task_name`` (written ``at``, if given); return its id."""
    letter = dead_letters.Letter(task_id=str(uuid.uuid4()), task_name=task_name, organ="perception", run_id=run_id,
                                 node=node, args=args or [["feed"], WINDOW], kwargs={}, reason="exhausted",
                                 error_type="TimeoutError", error_message=error,
                                 traceback=f"Traceback (most recent call last):\n  {error}",
                                 attempts=[{"at": datetime.now().isoformat(), "error": error, "action": "dead"}])
    with session(url) as s:
        dead_letters.record(s, letter)
        if at is not None:
            s.execute(update(DeadLetter).where(DeadLetter.task_id == letter.task_id).values(created_at=at))
    return next(found.id for found in dead_letters.find(url, status=None) if found.task_id == letter.task_id)
