"""Dead letters: one record per message Organism gave up on, queryable and replayable.

The record is written in the same transaction as the node and run status it belongs to (tracking.py). The
message itself goes to the dead-letter exchange: on RabbitMQ the broker moves it there when the worker rejects
it (``x-death`` shows why); Redis and the SQL transport have no such thing, so the app publishes a copy.

A record must be storable whatever the message held: :func:`storable` escapes what PostgreSQL refuses (NUL, lone
surrogates) and cuts large values, keeping their full size in a marker. The attempts of a retried call are kept
in the store as they fail (:class:`~organism.store.models.Attempt`), not in the message's headers, which RabbitMQ
caps at one frame; the record takes them over.
"""

from __future__ import annotations

import logging
import math
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from celery import Celery
from sqlalchemy import Select, String, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from organism.brokers import broker_for
from organism.brokers.queues import DEAD_LETTER_EXCHANGE, DEAD_LETTER_QUEUE
from organism.errors import OrganismError
from organism.redaction import redact
from organism.settings import get_settings
from organism.store import session
from organism.store.db import rowcount
from organism.store.models import Attempt, DeadLetter, DeadLetterStatus, utcnow

REPLAY_HEADER = "organism_replay_of"
ATTEMPT_ERROR_MAX_CHARS = 1000  # an attempt's error is a summary: the record's error_message has all of the last
ATTEMPTS_KEPT = 100  # a record keeps the latest attempts of a call deferred or retried more often than this
# What PostgreSQL refuses in text: NUL, and surrogates, which have no UTF-8 form (JSON may carry lone ones).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
logger = logging.getLogger(__name__)


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
    args: Any  # a list, and kwargs a mapping, unless the message was malformed: then as given
    kwargs: Any
    reason: str
    error_type: str
    error_message: str
    traceback: str | None
    attempts: list[dict[str, Any]]
    delivery_count: int = 1
    replay_of: int | None = None
    replayable: bool = True


def storable(value: Any, max_chars: int) -> Any:
    """``value`` as the store can keep it in a text or JSON column, at most about ``max_chars`` characters long.

    NUL and lone surrogates become visible escapes (``\\x00``, ``\\udc80``); a longer string keeps its head and
    ends in ``…[truncated, <full length> chars]``; a list or mapping keeps its first items while they fit, then
    ``…[truncated, <count> items]``. Tuples become lists, non-finite floats and other objects their ``repr``.
    """
    return _storable(value, max_chars)[0]


def _storable(value: Any, budget: int) -> tuple[Any, int]:
    """The stored form of ``value`` and about how many characters of JSON it takes."""
    if value is None or isinstance(value, bool):
        return value, 5
    if isinstance(value, int):
        return value, 20
    if isinstance(value, float):
        return (value, 24) if math.isfinite(value) else (repr(value), 6)
    if isinstance(value, str):
        cut = value[:max(budget, 0)]
        text = _UNSTORABLE.sub(lambda m: m.group().encode("unicode_escape").decode(), cut)
        if len(cut) < len(value):
            text += f"…[truncated, {len(value)} chars]"
        return text, len(text) + 2
    if isinstance(value, Mapping):
        kept: dict[str, Any] = {}
        used = 2
        for key, item in value.items():
            if used >= budget:
                kept["…"] = f"[truncated, {len(value)} items]"
                break
            name, size = _storable(str(key), budget - used)
            kept[name], item_size = _storable(item, budget - used - size)
            used += size + item_size + 2
        return kept, used
    if isinstance(value, list | tuple):
        items: list[Any] = []
        used = 2
        for item in value:
            if used >= budget:
                items.append(f"…[truncated, {len(value)} items]")
                break
            stored, size = _storable(item, budget - used)
            items.append(stored)
            used += size + 1
        return items, used
    return _storable(repr(value), budget)


def record(s: Session, letter: Letter) -> bool:
    """Insert the record unless this task id already has one; True if this call wrote it.

    Every value is redacted and made :func:`storable`; the call's attempts kept in the store come first in its
    history (and leave the attempts table); a ``replay_of`` that names no dead letter is dropped.
    """
    max_chars = get_settings().dead_letter_max_chars
    args, kwargs = redact(letter.args), redact(letter.kwargs)
    values: dict[str, Any] = {"args": storable(args, max_chars), "kwargs": storable(kwargs, max_chars)}
    for column in DeadLetter.__table__.columns:  # every text made storable and cut to its column's length
        given = getattr(letter, column.name, None)
        if isinstance(column.type, String) and given is not None:
            text = storable(redact(str(given)), max_chars)
            values[column.name] = text[:column.type.length] if column.type.length else text
    values |= {
        "replayable": bool(letter.replayable) and isinstance(args, list) and isinstance(kwargs, dict)
        and (values["args"], values["kwargs"]) == (args, kwargs),
        "attempts": _history(s, values["task_id"], letter.attempts), "delivery_count": letter.delivery_count,
        "replay_of": _replay_of(s, letter), "status": DeadLetterStatus.DEAD.value, "created_at": utcnow()}
    insert = postgresql.insert if s.get_bind().dialect.name == "postgresql" else sqlite.insert
    done = s.execute(insert(DeadLetter).values(**values).on_conflict_do_nothing(index_elements=["task_id"]))
    return bool(rowcount(done))


def keep_attempt(s: Session, task_id: str, action: str, error: str) -> str:
    """Keep a failed attempt of ``task_id`` for its dead letter, should it get one; return the error as kept."""
    kept = storable(redact(error), ATTEMPT_ERROR_MAX_CHARS)
    s.add(Attempt(task_id=task_id[:64], at=utcnow(), action=action, error=kept))
    return str(kept)


def attempt(action: str, error: str) -> dict[str, str]:
    """One entry of a dead letter's history: when, what was decided, and the error (cut to a summary when stored)."""
    return {"at": utcnow().isoformat(), "action": action, "error": error}


def _history(s: Session, task_id: str, last: Any) -> list[Any]:
    """The attempts kept for ``task_id`` then ``last`` (the letter's own), the latest :data:`ATTEMPTS_KEPT`."""
    earlier = s.scalars(select(Attempt).where(Attempt.task_id == task_id).order_by(Attempt.id)).all()
    s.execute(delete(Attempt).where(Attempt.task_id == task_id))
    history: list[Any] = [{"at": a.at.isoformat(), "action": a.action, "error": a.error} for a in earlier]
    history += [{str(k): storable(redact(v), ATTEMPT_ERROR_MAX_CHARS) for k, v in a.items()} if isinstance(a, Mapping)
                else storable(redact(a), ATTEMPT_ERROR_MAX_CHARS) for a in (last if isinstance(last, list) else [last])]
    if len(history) > ATTEMPTS_KEPT:
        first = history[0].get("at", "") if isinstance(history[0], dict) else ""
        history = [{"at": first, "action": "…", "error": f"…[truncated, {len(history)} attempts]"},
                   *history[1 - ATTEMPTS_KEPT:]]
    return history


def _replay_of(s: Session, letter: Letter) -> int | None:
    """The dead letter this one replays, if ``letter.replay_of`` names one that exists."""
    given = letter.replay_of
    if given is None:
        return None
    if isinstance(given, int) and not isinstance(given, bool) and -2**31 <= given < 2**31 and s.scalar(
            select(DeadLetter.id).where(DeadLetter.id == given)) is not None:
        return given
    logger.warning("dead letter of task %s: %s=%s names no dead letter; recorded without the link",
                   letter.task_id, REPLAY_HEADER, storable(repr(given), 100))
    return None


def minimal(letter: Letter, refused: BaseException) -> Letter:
    """What of ``letter`` is kept when the store refused it whole: its ids, reason and error, cut short."""
    cause = getattr(refused, "orig", None) or refused
    return Letter(task_id=letter.task_id, task_name=letter.task_name, organ=letter.organ, run_id=letter.run_id,
                  node=None, args=[], kwargs={}, reason=letter.reason, error_type=letter.error_type,
                  error_message=storable(str(letter.error_message), ATTEMPT_ERROR_MAX_CHARS), traceback=None,
                  attempts=[attempt("dead", f"the store refused the whole record: {type(cause).__name__}: {cause}")],
                  delivery_count=1, replay_of=letter.replay_of, replayable=False)


def publish_copy(app: Celery, letter: Letter) -> None:
    """Put a copy of the message on the dead-letter queue, where the broker does not move it there itself."""
    if broker_for((getattr(app, "settings", None) or get_settings()).broker).dead_letters_rejected:
        return
    body = {"task": letter.task_name, "id": letter.task_id, "args": redact(letter.args),
            "kwargs": redact(letter.kwargs),
            "x-death": [{"reason": letter.reason, "queue": letter.organ, "time": utcnow().isoformat(),
                         "count": letter.delivery_count, "error": f"{letter.error_type}: {letter.error_message}"}]}
    try:
        with app.producer_or_acquire() as producer:
            producer.publish(body, exchange=DEAD_LETTER_EXCHANGE, routing_key=str(letter.organ or ""),
                             serializer="json", retry=True)
    except Exception:
        logger.exception("could not put a copy of task %s on the dead-letter queue; its record holds the message",
                         letter.task_id)


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


def exists(url: str, task_id: str) -> bool:
    """Whether ``task_id`` has a dead letter already."""
    with session(url) as s:
        return s.scalar(select(DeadLetter.id).where(DeadLetter.task_id == task_id)) is not None


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
        if not letter.replayable:
            raise ReplayRefused(f"dead letter {letter_id}: its arguments were cut or escaped to fit the store, or "
                                f"are not a list and a mapping; the message as sent is on the {DEAD_LETTER_QUEUE} "
                                "queue")
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
