"""Messages a worker cannot run: an unknown task, a malformed body, a serializer other than JSON.

Each is logged by Celery with what was wrong, rejected (on RabbitMQ that sends it to the dead-letter exchange),
and recorded here as a dead letter, so nothing vanishes; the worker goes on consuming. Celery rejects the
first two itself but acknowledges an undecodable message, which would lose it: :class:`Consumer` rejects it.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from celery import signals
from celery.worker.consumer import Consumer as CeleryConsumer
from kombu.exceptions import ContentDisallowed, DecodeError
from kombu.message import Message

from organism import deadletter, tracking
from organism.store.models import utcnow

logger = logging.getLogger(__name__)
CONSUMER = "organism.bad_messages:Consumer"


def _letter(message: Message, reason: str, error: BaseException | None, name: str | None = None) -> deadletter.Letter:
    headers = message.headers or {}
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    try:
        body = message.decode()
        if isinstance(body, list | tuple) and len(body) >= 2:
            args, kwargs = list(body[0] or []), dict(body[1] or {})
    except Exception:  # an undecodable body is the very thing being recorded
        body = None
    what = f"content type {message.content_type!r}" + ("" if body is not None else ", body could not be decoded")
    return deadletter.Letter(
        task_id=str(headers.get("id") or uuid.uuid4()), task_name=str(name or headers.get("task") or "?"),
        organ=(message.delivery_info or {}).get("routing_key"), run_id=headers.get(tracking.RUN_HEADER), node=None,
        args=args, kwargs=kwargs, reason=reason, error_type=type(error).__name__ if error else reason,
        error_message=f"{error or reason} ({what})", traceback=None,
        attempts=[{"at": utcnow().isoformat(), "error": str(error or reason), "action": "dead"}])


def _record(app: Any, letter: deadletter.Letter) -> None:
    logger.error("dead-lettered a %s message: task %s id %s: %s", letter.reason, letter.task_name, letter.task_id,
                 letter.error_message)
    tracking.gave_up(app.settings.database, letter)
    deadletter.publish_copy(app, letter)


class Consumer(CeleryConsumer):
    """Celery's consumer, made to survive bad messages.

    It rejects (instead of acknowledging) a message it cannot decode, after recording it; and a task body of
    the wrong shape goes the way of Celery's other invalid messages instead of raising out of the consumer,
    which stops the worker ("Unrecoverable error: ValueError('too many values to unpack')").
    """

    def create_task_handler(self, promise: Any = None) -> Any:
        handle = super().create_task_handler() if promise is None else super().create_task_handler(promise)

        def on_task_received(message: Message) -> Any:
            try:
                return handle(message)
            except (ValueError, TypeError) as exc:  # raised by Request() for a body that is not (args, kwargs, embed)
                return self.on_invalid_task(None, message, exc)

        return on_task_received

    def on_decode_error(self, message: Message, exc: Exception) -> None:
        try:
            _record(self.app, _letter(message, "undecodable", exc))
        finally:
            message.reject(requeue=False)


@signals.task_unknown.connect
def _unknown(sender: Any = None, name: str | None = None, message: Message | None = None,
             exc: BaseException | None = None, **_: Any) -> None:
    if message is not None:
        _record(sender.app, _letter(message, "unknown-task", exc, name))


@signals.task_rejected.connect
def _malformed(sender: Any = None, message: Message | None = None, exc: BaseException | None = None,
               **_: Any) -> None:
    if message is not None:
        unreadable = isinstance(exc, ContentDisallowed | DecodeError)
        _record(sender.app, _letter(message, "undecodable" if unreadable else "malformed", exc))
