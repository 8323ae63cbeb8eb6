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
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from celery import Celery
from sqlalchemy import Select, String, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from organism.brokers import broker_for
from organism.brokers.queues import DEAD_LETTER_QUEUE
from organism.headers import PUBLISHED_HEADER
from organism.redaction import redact
from organism.settings import get_settings
from organism.store import session
from organism.store.db import rowcount
from organism.store.models import Attempt, DeadLetter, DeadLetterStatus, Run, utcnow

REPLAY_HEADER = "organism_replay_of"
ATTEMPT_ERROR_MAX_CHARS = 1000  # an attempt's error is a summary: the record's error_message has all of the last
ATTEMPTS_KEPT = 100  # a record keeps the latest attempts of a call deferred or retried more often than this
# What PostgreSQL refuses in text: NUL, and surrogates, which have no UTF-8 form (JSON may carry lone ones).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
logger = logging.getLogger(__name__)


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
    """Put a copy of the message on the dead-letter queue, where the broker does not move it there itself, and
    keep the queue within its retention (organism.brokers.queues)."""
    settings = getattr(app, "settings", None) or get_settings()
    broker = broker_for(settings.broker)
    if broker.dead_letters_rejected:
        return
    body = {"task": letter.task_name, "id": letter.task_id, "args": redact(letter.args),
            "kwargs": redact(letter.kwargs),
            "x-death": [{"reason": letter.reason, "queue": letter.organ, "time": utcnow().isoformat(),
                         "count": letter.delivery_count, "error": f"{letter.error_type}: {letter.error_message}"}]}
    try:
        with app.producer_or_acquire() as producer:
            # Straight to the queue, through the default exchange: the SQL transport keeps the dead-letter
            # exchange's bindings in the memory of the connection that declared them (the worker's main process),
            # so a copy a pool process sent through that exchange went nowhere.
            # Serialized as the app's task messages are: signed when signing is on (organism/security/signing.py).
            producer.publish(body, exchange="", routing_key=DEAD_LETTER_QUEUE, serializer=app.conf.task_serializer,
                             retry=True, headers={PUBLISHED_HEADER: time.time()})
            try:
                broker.trim_dead_queue(producer.channel, settings)
            except Exception:
                logger.exception("could not trim the dead-letter queue to its retention; the next copy tries again")
    except Exception:
        logger.exception("could not put a copy of task %s on the dead-letter queue; its record holds the message",
                         letter.task_id)


def query(skill: str | None = None, since: datetime | None = None, until: datetime | None = None,
          status: DeadLetterStatus | None = DeadLetterStatus.DEAD, run: str | None = None) -> Select[Any]:
    """Dead letters that match every filter given, newest first: of ``skill``, written at or after ``since`` and
    before ``until`` (a time without a zone is UTC), in ``status`` (any if None), of ``run`` (its id or key)."""
    stmt = select(DeadLetter).order_by(DeadLetter.created_at.desc(), DeadLetter.id.desc())
    if skill:
        stmt = stmt.where(DeadLetter.task_name == skill)
    if since:
        stmt = stmt.where(DeadLetter.created_at >= _utc(since))
    if until:
        stmt = stmt.where(DeadLetter.created_at < _utc(until))
    if status:
        stmt = stmt.where(DeadLetter.status == status.value)
    if run:
        stmt = stmt.where(or_(DeadLetter.run_id == run, DeadLetter.run_id.in_(select(Run.id).where(Run.key == run))))
    return stmt


def _utc(moment: datetime) -> datetime:
    """``moment`` in UTC, the store's clock (SQLite compares the digits, so the zone must be the same)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def find(url: str, limit: int | None = None, offset: int = 0, **filters: Any) -> list[DeadLetter]:
    """The dead letters :func:`query` selects with ``filters``, at most ``limit`` of them after the first ``offset``."""
    with session(url) as s:
        return list(s.scalars(query(**filters).limit(limit).offset(offset)))


def count(url: str, **filters: Any) -> int:
    """How many dead letters :func:`query` selects with ``filters``."""
    with session(url) as s:
        return s.scalar(select(func.count()).select_from(query(**filters).order_by(None).subquery())) or 0


def skills(url: str) -> list[str]:
    """Every skill that has dead letters, whatever their status, sorted."""
    with session(url) as s:
        return list(s.scalars(select(DeadLetter.task_name).distinct().order_by(DeadLetter.task_name)))


def run_keys(url: str, run_ids: set[str]) -> dict[str, str]:
    """The run key of each of ``run_ids`` that still has its run."""
    with session(url) as s:
        return dict(s.execute(select(Run.id, Run.key).where(Run.id.in_(run_ids))).tuples().all())


def dead_of_run(url: str, run_id: str) -> dict[str, DeadLetter]:
    """The newest dead letter not yet replayed of each node of run ``run_id``, by node name."""
    with session(url) as s:
        found = s.scalars(select(DeadLetter).where(DeadLetter.run_id == run_id, DeadLetter.node.is_not(None),
                                                   DeadLetter.status == DeadLetterStatus.DEAD.value)
                          .order_by(DeadLetter.id))
        return {letter.node or "": letter for letter in found}


def exists(url: str, task_id: str) -> bool:
    """Whether ``task_id`` has a dead letter already."""
    with session(url) as s:
        return s.scalar(select(DeadLetter.id).where(DeadLetter.task_id == task_id)) is not None


def get(url: str, letter_id: int) -> DeadLetter | None:
    with session(url) as s:
        return s.get(DeadLetter, letter_id)


def purge(url: str, ids: list[int] | None = None) -> int:
    """Mark dead letters purged (all dead ones when ``ids`` is None); return how many."""
    with session(url) as s:
        stmt = update(DeadLetter).where(DeadLetter.status == DeadLetterStatus.DEAD.value)
        if ids is not None:
            stmt = stmt.where(DeadLetter.id.in_(ids))
        return rowcount(s.execute(stmt.values(status=DeadLetterStatus.PURGED.value)))
