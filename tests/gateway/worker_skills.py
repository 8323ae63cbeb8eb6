"""Skills that call the model through the gateway, for the Celery workers the gateway tests start."""

from __future__ import annotations

from typing import Any

from celery import current_task
from sqlalchemy import func, select

from organism.errors import TransientError
from organism.gateway.client import chat
from organism.gateway.models import LedgerEntry
from organism.settings import get_settings
from organism.skill import skill
from organism.store import session

QUICK_RETRIES = {"backoff_base_s": 0.1, "jitter": 0.0}


def _ask(prompt: str) -> dict[str, Any]:
    result = chat([{"role": "user", "content": prompt}])
    return {"content": result.content, "prompt_tokens": result.usage.prompt_tokens,
            "completion_tokens": result.usage.completion_tokens, "replayed": result.replayed}


@skill(organ="perception", name="test.gateway.ask", effect="read-only", retry=QUICK_RETRIES)
def ask(prompt: str) -> dict[str, Any]:
    """One model call; what the server answered and what it cost."""
    return _ask(prompt)


@skill(organ="perception", name="test.gateway.ask_then_fail_once", effect="read-only", retry=QUICK_RETRIES)
def ask_then_fail_once(prompt: str) -> dict[str, Any]:
    """A model call, then a transient failure of the skill's own after its first answer: the retry pays again."""
    answer = _ask(prompt)
    with session(get_settings().database) as s:
        answered = s.scalar(select(func.count()).select_from(LedgerEntry)
                            .where(LedgerEntry.task_id == current_task.request.id))
    if answered == 1:
        raise TransientError("failed after the model answered")
    return answer
