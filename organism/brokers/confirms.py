"""Many calls published with one wait for RabbitMQ's publisher confirms, instead of one wait per call.

    with confirmed_together(app) as producer:
        for post in posts:
            analyse.apply_async((post,), producer=producer)
    # every message is confirmed here, or the block raised

On RabbitMQ the app publishes with confirms (brokers/amqp.py), and py-amqp waits for the broker's ack after each
message before it returns: a round trip per call, which capped a producer sending many calls at once at about
half of stock Celery's rate (docs/benchmarks.md, Levers). Inside this block the messages go out one after another
without waiting, on a channel of their own, and the block waits once at its end until RabbitMQ has acked every
one of them. Leaving the block normally means what a confirmed ``apply_async`` means, for all of them: RabbitMQ
holds each message. If it nacks any, the connection drops, or the acks do not all come within ``timeout_s``, the
block raises :class:`PublishNotConfirmed`, and any message published in it may be missing, as a call whose own
confirm failed may be: send them again (a skill's effect says whether that is safe). py-amqp has no pipelined
confirms of its own; its channel reports each ack to listeners (``channel.events``), which is what this counts.

Every publish of the app in the block goes through its producer, not only those that are handed ``producer``:
:class:`~organism.app.Organism` hands it to Celery wherever Celery would take one from its pool. So a canvas
(``chain``, ``group``, ``chord``, whose ``apply_async`` does not pass a producer on to its tasks) published in the
block is confirmed together too: a run's start (``workflows.start``) publishes its canvas this way, four scans or
a map's thousands of items with one wait. A block inside another block of the same app is part of the outer one.

On a broker without publisher confirms (Redis, the embedded SQL transport) the block only shares one producer
from the app's pool.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from celery import Celery
from kombu import Producer

from organism.errors import OrganismError

_RETRY = ("max_retries", "interval_start", "interval_step", "interval_max")  # of task_publish_retry_policy
# The app and producer of the confirmed_together block this thread (or task) is in.
_BLOCK: ContextVar[tuple[Celery, Producer] | None] = ContextVar("organism_confirmed_together", default=None)


def block_producer(app: Celery) -> Producer | None:
    """The producer of the :func:`confirmed_together` block of ``app`` that the caller is in, if any."""
    block = _BLOCK.get()
    return block[1] if block is not None and block[0] is app else None


class PublishNotConfirmed(OrganismError):
    """RabbitMQ did not confirm every message of a :func:`confirmed_together` block: it nacked some, the connection
    dropped, or the acks did not come in time. Any message of the block may be missing."""


class _Tally:
    """The confirms RabbitMQ sent for a channel's messages, whose delivery tags count 1, 2, 3 ... from its
    ``confirm.select``; an ack or nack with ``multiple`` settles every tag up to its own."""

    def __init__(self) -> None:
        self.published = 0
        self.settled_up_to = 0
        self.settled_above: set[int] = set()
        self.nacked = 0

    @property
    def settled(self) -> int:
        return self.settled_up_to + len(self.settled_above)

    def publish(self) -> None:
        self.published += 1

    def ack(self, delivery_tag: int, multiple: bool) -> None:
        if multiple:
            self.settled_up_to = max(self.settled_up_to, delivery_tag)
            self.settled_above = {tag for tag in self.settled_above if tag > self.settled_up_to}
        elif delivery_tag > self.settled_up_to:
            self.settled_above.add(delivery_tag)

    def nack(self, delivery_tag: int, multiple: bool) -> None:
        before = self.settled
        self.ack(delivery_tag, multiple)
        self.nacked += self.settled - before


@contextmanager
def confirmed_together(app: Celery, timeout_s: float = 30) -> Iterator[Producer]:
    """A producer whose messages are confirmed together when the block ends (see the module docstring).

    Raises:
        PublishNotConfirmed: at the end of the block, when RabbitMQ did not confirm every message in it.
    """
    outer = block_producer(app)
    if outer is not None:  # the outer block waits for these messages too
        yield outer
        return
    if not app.conf.broker_transport_options.get("confirm_publish"):  # nothing to wait for on this broker
        with app.producer_pool.acquire(block=True) as shared, _in_block(app, shared):
            yield shared
        return
    with app.pool.acquire(block=True) as connection:  # the app's pooled connections: no handshake per block
        policy = app.conf.task_publish_retry_policy or {}
        tally = _Tally()

        def confirming_channel() -> Any:
            channel = connection.channel()
            channel.events["basic_ack"].add(tally.ack)
            channel.events["basic_nack"].add(tally.nack)
            channel.confirm_select()
            channel._confirm_selected = True
            return channel

        # As a publish does (task_publish_retry_policy): ride out a broker that is down, and reconnect a pooled
        # connection that RabbitMQ closed since it was last used (a restart), which fails its first use.
        channel = connection.ensure(connection, confirming_channel,
                                    **{name: policy[name] for name in _RETRY if name in policy})()
        try:
            def publish(*args: Any, **kwargs: Any) -> Any:
                kwargs.pop("confirm_timeout", None)
                tally.publish()
                return channel._basic_publish(*args, **kwargs)

            channel.basic_publish = publish  # py-amqp's basic_publish_confirm, without its wait
            producer = app.amqp.Producer(channel)
            with _in_block(app, producer):
                yield producer
            _wait(connection, tally, timeout_s, lost=lambda: producer.channel is not channel or not channel.is_open)
        except BaseException:
            connection.collect()  # what its channel holds is unknown: the pool's next user reconnects
            raise
        else:
            channel.close()


@contextmanager
def _in_block(app: Celery, producer: Producer) -> Iterator[None]:
    token = _BLOCK.set((app, producer))
    try:
        yield
    finally:
        _BLOCK.reset(token)


def _wait(connection: Any, tally: _Tally, timeout_s: float, lost: Callable[[], bool]) -> None:
    deadline = time.monotonic() + timeout_s
    try:
        while tally.settled < tally.published:
            if lost():  # kombu reconnected a publish: the acks of the messages before it will never come
                raise ConnectionError("the connection dropped and was reopened during the block")
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no confirm within {timeout_s:g} s")
            connection.drain_events(timeout=left)
    except (TimeoutError, ConnectionError, *connection.connection_errors, *connection.channel_errors) as error:
        raise PublishNotConfirmed(f"RabbitMQ confirmed {tally.settled - tally.nacked} of {tally.published} "
                                  f"messages published together ({error}); any of them may be missing") from error
    if tally.nacked:
        raise PublishNotConfirmed(f"RabbitMQ refused (nacked) {tally.nacked} of {tally.published} messages "
                                  "published together; any of them may be missing")
