"""A database as the broker (``sqlalchemy+<database URL>``, ``sqla+<database URL>``): the embedded profile's
SQLite file, polled by kombu's SQL transport as tuned in :mod:`.embedded`."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from organism.brokers import embedded
from organism.brokers.base import Broker
from organism.brokers.queues import DEAD_LETTER_QUEUE
from organism.headers import published_at
from organism.store.db import reach, sqlite_connect_args

if TYPE_CHECKING:
    from organism.settings import Settings


class SqlBroker(Broker):
    prefixes = ("sqlalchemy+", "sqla+")
    transport = embedded.TRANSPORT

    @property
    def celery_url(self) -> str:
        """The database URL alone: kombu takes a transport class path only as the ``transport`` option, never
        in a URL."""
        return self.url.split("+", 1)[1]

    def transport_options(self, settings: Settings) -> dict[str, Any]:
        """The engine's options (kombu hands every transport option to ``create_engine``). The polling interval
        cannot travel as one, so it is set on the transport class here."""
        embedded.configure_polling(settings.embedded_polling_interval_s)
        return sqlite_connect_args(self.celery_url)

    def oldest_payloads(self, channel: Any, queue: str) -> list[str | bytes]:
        """The oldest visible row."""
        message, queue_row = channel.message_cls, channel.queue_cls
        row = (channel.session.query(message.payload).join(queue_row, message.queue_id == queue_row.id)
               .filter(queue_row.name == queue, message.visible.is_(True))
               .order_by(message.sent_at, message.id).first())
        channel.session.rollback()  # end the read transaction: SQLite would otherwise hold its snapshot
        return [row[0]] if row else []

    def trim_dead_queue(self, channel: Any, settings: Settings) -> int:
        """Delete the dead-letter queue's rows beyond the newest ``dead_queue_max_length``, and from the oldest on,
        those published more than ``dead_queue_max_age_s`` ago (by the publish time every copy carries; a row
        without it counts as older than any). Rows are deleted by id, so trimmers at once drop nothing twice."""
        message, queue_row = channel.message_cls, channel.queue_cls
        s = channel.session
        rows = (s.query(message.id).join(queue_row, message.queue_id == queue_row.id)
                .filter(queue_row.name == DEAD_LETTER_QUEUE))
        try:
            dropped: list[int] = []
            if settings.dead_queue_max_length:
                dropped += [row.id for row in rows.order_by(message.id.desc()).offset(settings.dead_queue_max_length)]
            if settings.dead_queue_max_age_s:
                oldest_kept = time.time() - settings.dead_queue_max_age_s
                for row in rows.add_columns(message.payload).order_by(message.id).yield_per(50):
                    if (published_at(row.payload) or 0.0) >= oldest_kept:
                        break
                    dropped.append(row.id)
            if dropped:
                s.query(message).filter(message.id.in_(set(dropped))).delete(synchronize_session=False)
            s.commit()
        except BaseException:
            s.rollback()
            raise
        return len(set(dropped))

    def reach(self, timeout_s: float) -> None:
        """Open the database (its folder must exist: :class:`organism.store.db.MissingFolder`)."""
        reach(self.celery_url)

