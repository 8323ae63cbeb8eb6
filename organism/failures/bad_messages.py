"""Messages a worker cannot run: malformed, undecodable, for an unknown task, past the delivery cap, expired, or
(with signing on) not signed by a trusted certificate (organism.security.refusals).

Every one is rejected (on RabbitMQ that sends it to the dead-letter exchange), logged in one line, recorded as
one dead letter, and its Celery result set to FAILURE where it has a task id, so a caller's ``.get()`` does not
wait for ever; the worker goes on consuming. :class:`Consumer` checks each message (organism.failures.message_checks)
and counts its redeliveries before Celery's own handler sees it, and turns anything that still raises out of
that handler into a dead letter instead of letting it stop the worker's main process. A failed task that is not a
skill, and an item a transport could not read as a message (organism.brokers.envelopes), are recorded here too.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from celery import current_app, signals
from celery.exceptions import InvalidTaskError, TimeLimitExceeded
from celery.utils.collections import AttributeDict
from celery.worker.consumer import Consumer as CeleryConsumer
from kombu.exceptions import ContentDisallowed, DecodeError
from kombu.message import Message

from organism import expiry, headers
from organism.errors import PermanentError
from organism.failures import bookkeeping, dead_letters, message_checks
from organism.failures.outages import unreachable
from organism.observability.events import UnconfirmedEvents
from organism.security import refusals

logger = logging.getLogger(__name__)
CONSUMER = "organism.failures.bad_messages:Consumer"
_KEPT_DEPTH = 32  # how much of a too-deep body its dead letter keeps


class MalformedMessage(InvalidTaskError):
    """A message that is not a task message Organism can run; the result of a dead-lettered bad message."""


class PoisonMessage(PermanentError):
    """A message that was delivered more often than the cap: each delivery lost its worker."""


def _letter(message: Message, reason: str, error: BaseException | None, name: str | None = None,
            deliveries: int = 1) -> dead_letters.Letter:
    headers = message.headers if isinstance(message.headers, Mapping) else {}
    args: Any = []
    kwargs: Any = {}
    try:
        body = message.decode()
    except Exception:  # an undecodable body is the very thing being recorded
        # A refused message's arguments are kept as evidence, never as a call to replay.
        body = refusals.carried(message) if isinstance(error, refusals.Refused) else None
    body = message_checks.capped(body, _KEPT_DEPTH)
    if isinstance(body, list | tuple) and len(body) >= 2:
        args, kwargs = body[0], body[1]
    elif isinstance(body, Mapping):
        args, kwargs = body.get("args", []), body.get("kwargs", {})
    what = f"content type {message.content_type!r}" + ("" if body is not None else ", body could not be decoded")
    return dead_letters.Letter(
        task_id=message_checks.task_id(message) or str(uuid.uuid4()),
        task_name=str(name or headers.get("task") or "?")[:200], organ=(message.delivery_info or {}).get("routing_key"),
        node=None, args=args if isinstance(args, list) else [args], kwargs=kwargs if isinstance(kwargs, dict) else
        {"(not a mapping)": kwargs}, reason=reason, error_type=type(error).__name__ if error else reason,
        error_message=f"{error or reason} ({what})", traceback=None,
        attempts=[dead_letters.attempt("dead", str(error or reason))], delivery_count=deliveries,
        replayable=not isinstance(error, refusals.Refused), **_links(headers.get))


def _request_letter(task: Any, request: Any, reason: str, error_type: str, error: str, args: Any, kwargs: Any,
                    traceback: str | None = None) -> dead_letters.Letter:
    """The dead letter of a request Celery gave up on before or outside a skill's own failure handling."""
    return dead_letters.Letter(
        task_id=request.id, task_name=task.name, organ=(getattr(request, "delivery_info", None) or {}).get(
            "routing_key"), node=None, args=args, kwargs=kwargs, reason=reason, error_type=error_type,
        error_message=error, traceback=traceback, attempts=[dead_letters.attempt("dead", f"{error_type}: {error}")],
        **_links(lambda name: getattr(request, name, None)))


def _links(named: Callable[[str], Any]) -> dict[str, Any]:
    """The run, and the dead letter it replays, that a message names, where it names them as it should."""
    run_id, replay_of = named(headers.RUN_HEADER), named(dead_letters.REPLAY_HEADER)
    return {"run_id": run_id if isinstance(run_id, str) else None,
            "replay_of": replay_of if isinstance(replay_of, int) and not isinstance(replay_of, bool) else None}


def envelope_refused(raw: str | bytes, queue: str | None, reason: str) -> None:
    """Dead-letter an item a broker handed over that is not a message at all (organism.brokers.redis_transport)."""
    text = raw.decode("utf-8", "backslashreplace") if isinstance(raw, bytes) else raw
    letter = dead_letters.Letter(
        task_id=str(uuid.uuid4()), task_name="?", organ=queue, run_id=None, node=None, args=[],
        kwargs={"envelope": text}, reason="malformed", error_type=MalformedMessage.__name__, error_message=reason,
        traceback=None, attempts=[dead_letters.attempt("dead", reason)])
    _record(current_app, letter)


def _record(app: Any, letter: dead_letters.Letter) -> None:
    logger.error("dead-lettered a %s message: task %s id %s: %s", letter.reason, letter.task_name, letter.task_id,
                 letter.error_message[:500])
    bookkeeping.gave_up(app.settings.database, letter)
    dead_letters.publish_copy(app, letter)


def _fail_result(app: Any, message: Message, error: BaseException) -> None:
    """Store FAILURE for the message's task id, so whoever waits on its result learns it will never run."""
    found = message_checks.task_id(message)
    if found is None:
        return
    headers = message.headers if isinstance(message.headers, Mapping) else {}
    # Only the id is taken from the message: its callbacks, chord and reply queue are not to be trusted.
    request = AttributeDict(id=found, task=str(headers.get("task"))[:200], chord=None, errbacks=None, group=None,
                            reply_to=None, correlation_id=found, delivery_info={}, ignore_result=False)
    try:
        app.backend.mark_as_failure(found, error, request=request)
    except Exception:
        logger.exception("could not store the FAILURE result of bad message %s", found)


class Consumer(UnconfirmedEvents, CeleryConsumer):
    """Celery's consumer, made to survive any message (its task events sent unconfirmed: UnconfirmedEvents).

    Each task message is checked first; one with a problem is dead-lettered as ``malformed``. A message that
    passes and still makes Celery's handler raise is dead-lettered the same way, naming the error: only broker
    connection errors are let through, since those are the consumer's to recover from. An undecodable message
    is rejected after it is recorded (Celery would acknowledge it, losing it).
    """

    def create_task_handler(self, promise: Any = None) -> Any:
        handle = super().create_task_handler() if promise is None else super().create_task_handler(promise)
        settings = self.app.settings
        limits = message_checks.Limits(settings.max_message_bytes, settings.max_message_depth)
        let_through = (*self.connection_errors, *self.channel_errors)

        def on_task_received(message: Message) -> Any:
            found = message_checks.problem(message, limits)
            if found is not None:
                return self._dead(message, MalformedMessage(found))
            refused = refusals.refusal(message) if settings.signing.enabled else None
            if refused is not None:
                return self._dead(message, refused, refused.reason)
            deliveries = self._count_redelivery(message)
            if deliveries > settings.max_deliveries:
                poison = PoisonMessage(f"{message.headers['task']} was delivered {deliveries} times (cap "
                                       f"{settings.max_deliveries}); every delivery lost its worker")
                return self._dead(message, poison, "poison", deliveries)
            try:
                return handle(message)
            except let_through:
                raise
            except Exception as exc:
                return self._dead(message, MalformedMessage(f"{type(exc).__name__}: {exc}"))

        return on_task_received

    def _count_redelivery(self, message: Message) -> int:
        """Count a redelivery in the store, here in the main process, so that the cap holds for a message that
        kills whatever process handles it, even before its task starts; 1 for a first delivery."""
        if not (message.delivery_info or {}).get("redelivered"):
            return 1
        try:
            return bookkeeping.count_delivery(self.app.settings.database, message.headers["id"])
        except Exception:  # the store is down: run the message uncounted rather than lose it
            logger.exception("could not count a redelivery of %s; it runs uncounted", message.headers["id"])
            return 1

    def _dead(self, message: Message, error: Exception, reason: str = "malformed", deliveries: int = 1) -> None:
        try:
            _record(self.app, _letter(message, reason, error, deliveries=deliveries))
            _fail_result(self.app, message, error)
        finally:
            if not message.acknowledged:
                message.reject(requeue=False)

    def on_decode_error(self, message: Message, exc: Exception) -> None:
        if (message.delivery_info or {}).get("exchange") == self.app.control.mailbox.exchange.name:
            # Celery hands the remote-control consumer's decode errors here too. Such a message is no call, and
            # it was taken without acknowledgement: rejecting it would make RabbitMQ close the channel and stop
            # the worker. So it is only logged, by each worker it reached.
            refused = refusals.refusal(message) if self.app.settings.signing.enabled else None
            logger.error("ignored a remote-control message: %s (content type %r)", refused or exc,
                         message.content_type)
            return
        self._dead(message, exc, "undecodable")


@signals.task_unknown.connect
def _unknown(sender: Any = None, name: str | None = None, message: Message | None = None,
             exc: BaseException | None = None, **_: Any) -> None:
    if message is not None:  # Celery stored the FAILURE result itself
        _record(sender.app, _letter(message, "unknown-task", exc, name))


@signals.task_rejected.connect
def _malformed(sender: Any = None, message: Message | None = None, exc: BaseException | None = None,
               **_: Any) -> None:
    if message is not None:
        unreadable = isinstance(exc, ContentDisallowed | DecodeError)
        error = exc or MalformedMessage("not a task message")
        _record(sender.app, _letter(message, "undecodable" if unreadable else "malformed", error))
        _fail_result(sender.app, message, error)


@signals.task_failure.connect
def _failed(sender: Any = None, task_id: str | None = None, exception: BaseException | None = None,
            args: Any = None, kwargs: Any = None, einfo: Any = None, **_: Any) -> None:
    """A failure of a task that is not a skill (a skill records its own before Celery sends this signal).

    Left alone: a hard time limit, whose message Celery hands out again (the delivery cap ends it), and a broker or
    result backend out of reach, whose unacknowledged message comes back too.
    """
    settings = getattr(getattr(sender, "app", None), "settings", None)  # an Organism app's task, not another's
    if settings is None or task_id is None or getattr(sender, "skill", None) is not None:
        return
    if isinstance(exception, (TimeLimitExceeded, *unreachable(sender.app))):
        return
    if dead_letters.exists(settings.database, task_id):
        return
    _record(sender.app, _request_letter(sender, sender.request, "permanent", type(exception).__name__, str(exception),
                                        args, kwargs, str(einfo) if einfo else None))


@signals.task_revoked.connect
def _expired(sender: Any = None, request: Any = None, expired: bool = False, **_: Any) -> None:
    """An expired message is discarded by Celery (its result REVOKED, a skill's message rejected: organism.expiry);
    it leaves a dead letter too, saying when it expired and how late the worker that took it was.

    A message revoked by an operator is not a failure and leaves none.
    """
    if not expired or request is None:
        return
    error = expiry.expired_message(sender.name, getattr(request, "expires", None), datetime.now(UTC))
    _record(sender.app, _request_letter(sender, request, "expired", "Expired", error, list(request.args or []),
                                        dict(request.kwargs or {})))
