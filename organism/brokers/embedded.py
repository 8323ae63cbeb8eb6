"""The embedded profile's moving parts: a tuned SQL transport and a chord-counting SQLite result backend.

The transport serves a queue's messages by priority, then oldest first, where kombu's serves the oldest only
(:meth:`Channel._take`, organism.priorities).

Both exist because the stock pieces are slow by construction (DESIGN.md, Celery facts): kombu's SQL transport
polls once a second, and Celery's database result backend joins chords through ``chord_unlock``, which first
looks after a fixed second and cannot be told otherwise from a chain. Redis joins chords by counting header
results; :class:`ChordCountingBackend` does the same with one SQL counter row, so a Daily Sync needs no polling
task at all. It also never unpickles: Celery's database backend falls back to ``pickle.loads`` for a stored
result that is not JSON and starts like a pickle (rows of Celery versions before 4), so whoever can write to
``results.sqlite`` could run code in every process that reads a result. Such a row is refused with a logged
error instead (:mod:`.results`).
"""

from __future__ import annotations

from json import loads
from queue import Empty
from typing import Any

from celery.backends.base import BaseKeyValueStoreBackend
from celery.backends.database import DatabaseBackend
from kombu.transport import sqlalchemy as kombu_sqlalchemy
from kombu.utils.encoding import bytes_to_str, ensure_bytes
from sqlalchemy import text

from organism.brokers import envelopes
from organism.brokers.results import SafeResults
from organism.store.db import sqlite_connect_args

TRANSPORT = "organism.brokers.embedded:Transport"
# A row's message priority, which kombu's SQL transport has no column for: read from the stored envelope with SQLite's
# JSON functions (higher first; none counts as 0, as on RabbitMQ). A row that is not JSON counts as the most urgent,
# so that it is taken, and dead-lettered (organism.brokers.envelopes), at once rather than left to stall the ordering.
PRIORITY = ("(CASE WHEN json_valid(payload) THEN coalesce(json_extract(payload, '$.properties.priority'), 0) "
            "ELSE 255 END)")
# The index that serves the next message of a queue in that order without reading every row waiting there (each
# envelope is parsed once, when its row is written): with 5,000 rows waiting, choosing the next took 7 µs with it
# and 7 ms without (bench.embedded_priority, docs/priorities.md).
PRIORITY_INDEX = "organism_kombu_message_priority"
_indexed: set[str] = set()  # the databases this process has made sure have the index


class Channel(kombu_sqlalchemy.Channel):
    def _open(self) -> Any:
        """kombu's engine and session factory for the database, which has the priority index once this returns."""
        engine, factory = super()._open()
        url = self.connection.client.hostname
        if url not in _indexed and engine.dialect.name == "sqlite":
            with engine.begin() as connection:
                connection.execute(text(f"CREATE INDEX IF NOT EXISTS {PRIORITY_INDEX} ON "
                                        f"{self.message_cls.__tablename__} (queue_id, visible, {PRIORITY} DESC, id)"))
            _indexed.add(url)
        return engine, factory

    def close(self) -> None:
        """Close, and give the session's database connection back: kombu's channel keeps it until the channel is
        garbage-collected, and a process that opens a channel per read (the metrics exporter, the console) ran
        out of pooled connections."""
        try:
            super().close()
        finally:
            if self._session is not None:
                self._session.close()
                self._session = None

    def _get(self, queue: str, timeout: float | None = None) -> Any:
        try:
            return self._take(queue)
        except envelopes.UNPARSEABLE as error:  # the row is already marked taken: it is dead-lettered
            envelopes.unparseable(error, queue)
            raise Empty() from None

    def _take(self, queue: str) -> Any:
        """The next message of ``queue``, its row marked taken: the highest priority first, then the oldest.

        kombu's own ``_get`` takes the oldest only; this is it with :data:`PRIORITY` put first in the order. On a
        database other than SQLite, kombu's order stands (docs/priorities.md).
        """
        session = self.session
        if session.bind.name != "sqlite":
            return super()._get(queue)
        message = self.message_cls
        queue_id = self._get_or_create(queue).id
        session.execute(text("BEGIN IMMEDIATE TRANSACTION"))
        try:
            row = (session.query(message).filter(message.queue_id == queue_id, message.visible == True)  # noqa: E712
                   .order_by(text(f"{PRIORITY} DESC"), message.id).limit(1).first())
            if row is None:
                raise Empty()
            row.visible = False
            return loads(bytes_to_str(row.payload))
        finally:
            session.commit()


class Transport(envelopes.Delivering, kombu_sqlalchemy.Transport):
    """kombu's SQL transport with Organism's polling interval, surviving a row that is no message
    (organism.brokers.envelopes).

    kombu forwards every transport option to ``create_engine``, so ``polling_interval`` cannot travel as
    one; it is this class attribute, set by :func:`configure_polling` (organism.brokers.sql).
    """

    Channel = Channel
    polling_interval = 0.05


def configure_polling(interval_s: float) -> None:
    Transport.polling_interval = interval_s


_COUNTERS = "organism_chord_counters"


class ChordCountingBackend(SafeResults, DatabaseBackend):
    """Celery's database backend, joining chords with an atomic counter instead of ``chord_unlock``, decoding
    stored results with the result serializer only, and storing no secret about a call (SafeResults).

    The join itself is Celery's own key-value implementation; this class supplies the counter it needs.
    """

    implements_incr = True
    supports_native_join = False
    _chord_result_expires = None
    chord_expires = None
    on_chord_part_return = BaseKeyValueStoreBackend.on_chord_part_return
    apply_chord = BaseKeyValueStoreBackend._apply_chord_incr

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        with self.ResultSession() as session:
            session.execute(text(f"CREATE TABLE IF NOT EXISTS {_COUNTERS} (key VARCHAR(255) PRIMARY KEY, "
                                 "value INTEGER NOT NULL)"))
            session.commit()

    def _decode_stored_result(self, payload: Any) -> Any:
        """The stored value decoded by the result serializer (JSON); Celery's pickle fallback is gone."""
        return payload if payload is None else self.decode(ensure_bytes(payload))

    def get_key_for_chord(self, group_id: str, key: str = "") -> str:
        return f"chord-{group_id}"

    def get_key_for_group(self, group_id: str, key: str = "") -> str:
        return f"group-{group_id}"

    def get_key_for_task(self, task_id: str, key: str = "") -> str:
        return f"task-{task_id}"

    def incr(self, key: str) -> int:
        with self.ResultSession() as session:
            value = session.execute(
                text(f"INSERT INTO {_COUNTERS} (key, value) VALUES (:key, 1) "
                     "ON CONFLICT (key) DO UPDATE SET value = value + 1 RETURNING value"),
                {"key": key},
            ).scalar_one()
            session.commit()
            return int(value)

    def delete(self, key: str) -> None:
        with self.ResultSession() as session:
            session.execute(text(f"DELETE FROM {_COUNTERS} WHERE key = :key"), {"key": key})
            session.commit()

    def expire(self, key: str, value: Any) -> None:
        """Counters are deleted when their chord completes; results expire through Celery's own cleanup."""


RESULT_BACKEND = "organism.brokers.embedded:ChordCountingBackend"


def result_backend_url(url: str) -> str:
    """``db+sqlite:///f`` becomes a URL that selects :class:`ChordCountingBackend`."""
    return f"{RESULT_BACKEND}+{url.split('+', 1)[1]}"


def engine_options(url: str) -> dict[str, Any]:
    """Celery's ``database_engine_options`` for the results at ``db+sqlite:///f``."""
    return sqlite_connect_args(url.split("+", 1)[1])
