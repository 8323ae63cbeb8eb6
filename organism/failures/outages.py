"""Which errors mean a service is out of reach, as opposed to a call that is wrong."""

from __future__ import annotations

from celery import Celery
from kombu.exceptions import OperationalError

from organism.brokers.confirms import PublishNotConfirmed


def unreachable(app: Celery) -> tuple[type[BaseException], ...]:
    """The errors that mean the broker or the result backend could not be reached or refused the login, or that
    RabbitMQ did not confirm what was published together."""
    broker = app.connection_for_write()  # not connected: only its transport's error classes are read
    return (OperationalError, OSError, PublishNotConfirmed, *broker.connection_errors, *broker.channel_errors,
            *getattr(app.backend, "connection_errors", ()))
