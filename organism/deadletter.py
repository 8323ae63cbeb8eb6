"""Dead letters: one record per message Organism gave up on, queryable and replayable.

The record is written in the same transaction as the node and run status it belongs to (tracking.py). The
message itself goes to the dead-letter exchange: on RabbitMQ the broker moves it there when the worker rejects
it (``x-death`` shows why); Redis and the SQL transport have no such thing, so the app publishes a copy.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from celery import Celery
from sqlalchemy import Select, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from organism.errors import OrganismError
from organism.queues import DEAD_LETTER_EXCHANGE, is_amqp
from organism.redaction import redact
from organism.store import session
from organism.store.db import rowcount
from organism.store.models import DeadLetter, DeadLetterStatus, utcnow

REPLAY_HEADER = "organism_replay_of"


class ReplayRefused(OrganismError):
    pass


@dataclass(frozen=True)
class Letter:
    """What a dead letter is made of, gathered where the message died."""

    task_id: str
    task_name: str
    organ: str | None
    run_id: str | None
    node: str | None
    args: list[Any]
    kwargs: dict[str, Any]
    reason: str
    error_type: str
    error_message: str
    traceback: str | None
    attempts: list[dict[str, Any]]
    delivery_count: int = 1
    replay_of: int | None = None


def record(s: Session, letter: Letter) -> bool:
    """Insert the record unless this task id already has one; True if this call wrote it."""
    values = {**{name: redact(value) for name, value in letter.__dict__.items()},
              "status": DeadLetterStatus.DEAD.value, "created_at": utcnow()}
    insert = postgresql.insert if s.get_bind().dialect.name == "postgresql" else sqlite.insert
    done = s.execute(insert(DeadLetter).values(**values).on_conflict_do_nothing(index_elements=["task_id"]))
    return bool(rowcount(done))


def publish_copy(app: Celery, letter: Letter) -> None:
    """Put a copy of the message on the dead-letter queue, where the broker cannot do it (Redis, SQL)."""
    if is_amqp(app.conf.broker_url):
        return
    body = {"task": letter.task_name, "id": letter.task_id, "args": redact(letter.args),
            "kwargs": redact(letter.kwargs),
            "x-death": [{"reason": letter.reason, "queue": letter.organ, "time": utcnow().isoformat(),
                         "count": letter.delivery_count, "error": f"{letter.error_type}: {letter.error_message}"}]}
    with app.producer_or_acquire() as producer:
        producer.publish(body, exchange=DEAD_LETTER_EXCHANGE, routing_key=letter.organ or "",
                         serializer="json", retry=True)


def query(skill: str | None = None, since: datetime | None = None,
          status: DeadLetterStatus | None = DeadLetterStatus.DEAD) -> Select[Any]:
    stmt = select(DeadLetter).order_by(DeadLetter.id)
    if skill:
        stmt = stmt.where(DeadLetter.task_name == skill)
    if since:
        stmt = stmt.where(DeadLetter.created_at >= since)
    if status:
        stmt = stmt.where(DeadLetter.status == status.value)
    return stmt


def find(url: str, **filters: Any) -> list[DeadLetter]:
    with session(url) as s:
        return list(s.scalars(query(**filters)))


def get(url: str, letter_id: int) -> DeadLetter | None:
    with session(url) as s:
        return s.get(DeadLetter, letter_id)


def replay(app: Any, letter_id: int, force: bool = False) -> str:
    """Publish the dead message again as a new task with a fresh retry budget; return the new task id.

    Replaying a record twice publishes once: the second call returns the first replay's task id. The status
    change and the publish share a transaction, so a failed publish leaves the record dead.

    Raises:
        ReplayRefused: no such record, it was purged, the skill is unknown here, or it is unsafe and not forced.
    """
    url = app.settings.database
    with session(url) as s:
        letter = s.get(DeadLetter, letter_id, with_for_update=True)
        if letter is None:
            raise ReplayRefused(f"no dead letter {letter_id}; `organism dlq list` shows them")
        if letter.status == DeadLetterStatus.REPLAYED.value:
            return letter.replayed_as or ""
        if letter.status == DeadLetterStatus.PURGED.value:
            raise ReplayRefused(f"dead letter {letter_id} was purged")
        app.loader.import_default_modules()
        task = app.tasks.get(letter.task_name)
        if task is None:
            raise ReplayRefused(f"dead letter {letter_id}: unknown skill {letter.task_name!r}; nothing to replay to")
        effect = getattr(getattr(task, "skill", None), "effect", "unsafe")
        if effect == "unsafe" and not force:
            raise ReplayRefused(f"dead letter {letter_id}: {letter.task_name} is declared unsafe (replaying may "
                                "repeat its side effect); pass --force to replay it anyway")
        new_id = str(uuid.uuid4())
        changed = rowcount(s.execute(update(DeadLetter).where(DeadLetter.id == letter_id,
                                                     DeadLetter.status == DeadLetterStatus.DEAD.value)
                            .values(status=DeadLetterStatus.REPLAYED.value, replayed_at=utcnow(),
                                    replayed_as=new_id)))
        if not changed:  # replayed meanwhile by someone else
            return s.scalar(select(DeadLetter.replayed_as).where(DeadLetter.id == letter_id)) or ""
        task.apply_async(args=letter.args, kwargs=letter.kwargs, task_id=new_id,
                         headers={REPLAY_HEADER: letter_id})
    return new_id


def purge(url: str, ids: list[int] | None = None) -> int:
    """Mark dead letters purged (all dead ones when ``ids`` is None); return how many."""
    with session(url) as s:
        stmt = update(DeadLetter).where(DeadLetter.status == DeadLetterStatus.DEAD.value)
        if ids is not None:
            stmt = stmt.where(DeadLetter.id.in_(ids))
        return rowcount(s.execute(stmt.values(status=DeadLetterStatus.PURGED.value)))
