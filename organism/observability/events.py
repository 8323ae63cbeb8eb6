"""What Celery's task events say about a call, without secrets: what Flower and `celery events` show.

A task-received event carries the message's ``argsrepr``/``kwargsrepr`` headers, which a producer sets from the
arguments redacted (:func:`argument_reprs`, from ``hooks.py`` before each publish), so ``celery inspect``, the
worker's own log lines and Flower all show the redacted form. The other fields that carry values, a
task-succeeded result and a task-failed or task-retried exception and traceback, are made in the worker;
:class:`RedactingDispatcher`, the app's event dispatcher (``Organism.events_cls``), scrubs and bounds them, and
the argument fields again, in case a producer outside Organism set its own headers.

Celery names the task only in a task-received event (and task-sent, from a producer that sends one), so a monitor
that subscribed after a worker received a task (Flower started or restarted while it waited for its ETA, ran, or
was retried) would show it nameless. :class:`NamedRequest`, the worker's request of every skill
(``SkillTask.Request``), names it in every event it sends.
"""

from __future__ import annotations

from typing import Any

from celery.app.events import Events
from celery.events.dispatcher import EventDispatcher
from celery.events.event import group_from
from celery.utils.saferepr import saferepr
from celery.worker.request import Request

from organism.redaction import redact
from organism.security.sealed_calls import shown
from organism.settings import get_settings

EVENTS = "organism.observability.events:RedactingEvents"
NAMED_REQUEST = "organism.observability.events:NamedRequest"
# Event fields that hold arguments, results or errors; the rest (ids, names, times, counts) are Celery's own.
VALUE_FIELDS = frozenset({"args", "kwargs", "result", "exception", "traceback"})


def argument_reprs(args: Any, kwargs: Any, max_chars: int, max_levels: int) -> tuple[str, str]:
    """The ``argsrepr`` and ``kwargsrepr`` headers for a call: Celery's bounded repr of redacted arguments (a
    sealed call's as the key that sealed it).

    Each text is cut before it is scanned, so a 10 MB argument costs no more than a short one.
    """
    return (saferepr(redact(args, max_chars), max_chars, maxlevels=max_levels),
            saferepr(redact(shown(kwargs), max_chars), max_chars, maxlevels=max_levels))


class RedactingDispatcher(EventDispatcher):
    """Celery's event dispatcher, scrubbing the fields of an event that hold values before it is sent."""

    def send(self, type: str, *args: Any, **fields: Any) -> Any:
        # A worker's dispatcher stays enabled for its heartbeats with task events off, and Celery drops a task's
        # events unsent then (groups ['worker']): they are not scrubbed for nothing, three times per task.
        if self.enabled and (not self.groups or group_from(type) in self.groups):
            settings = getattr(self.app, "settings", None) or get_settings()
            for name in VALUE_FIELDS.intersection(fields):
                fields[name] = redact(fields[name], settings.observability.log_max_chars)
        return super().send(type, *args, **fields)


class RedactingEvents(Events):
    """``app.events`` with :class:`RedactingDispatcher` as its dispatcher."""

    dispatcher_cls = "organism.observability.events:RedactingDispatcher"


class UnconfirmedEvents:
    """Mixin for the worker's consumer (``worker_consumer``): its task events go out without publisher confirms.

    Celery's consumer opens its write connection for its event dispatcher alone (celery/worker/consumer/events.py)
    with the app's transport options, so on RabbitMQ each of a task's three events waited for its confirm in the
    main process, the one that also feeds the pool (docs/benchmarks.md, Levers: 15 % more CPU per no-op call).
    An event only informs a monitor (Flower), and one that is not listening never gets it anyway; the calls,
    results and dead letters, which must not be lost, keep their confirms. ``confirm_publish`` is the AMQP
    transport's option; the others have none to switch off.
    """

    app: Any
    ensure_connected: Any

    def connection_for_write(self, url: str | None = None, heartbeat: float | None = None) -> Any:
        return self.ensure_connected(self.app.connection_for_write(url=url, heartbeat=heartbeat,
                                                                   transport_options={"confirm_publish": False}))


class NamedRequest(Request):
    """Celery's worker-side request of a task, naming the task in every event it sends."""

    def send_event(self, type: str, **fields: Any) -> None:
        super().send_event(type, **{"name": self.name, **fields})
