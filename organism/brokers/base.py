"""What differs between the brokers Organism runs on, as one small interface.

:func:`organism.brokers.kinds.broker_for` picks the implementation from the broker URL, once; the app's Celery
configuration, the organ queues, dead-lettering, the queue metrics and ``organism doctor`` ask it, and no other
module looks at the URL's scheme.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

from kombu import Connection, Exchange

from organism.brokers.queues import EXCHANGE

if TYPE_CHECKING:
    from organism.settings import Settings


class Broker(ABC):
    """One broker URL and what its transport does its own way.

    Attributes:
        prefixes: what a URL of this broker starts with.
        transport: the kombu transport class Celery is told to use (``broker_transport``), or None for the one
            the URL's scheme names.
        dead_letters_rejected: the broker itself moves a message a worker rejects to the dead-letter exchange;
            where it does not, the app publishes a copy there.
        counts_consumers: a passive queue declaration says how many consumers the queue has.
        start: for ``organism doctor``, how to start the service when it does not answer (None for a file).
    """

    prefixes: ClassVar[tuple[str, ...]]
    transport: ClassVar[str | None] = None
    dead_letters_rejected: ClassVar[bool] = False
    counts_consumers: ClassVar[bool] = False
    start: ClassVar[str | None] = None

    def __init__(self, url: str) -> None:
        self.url = url

    @property
    def celery_url(self) -> str:
        """The URL Celery connects with (``broker_url``)."""
        return self.url

    def transport_options(self, settings: Settings) -> dict[str, Any]:
        """Celery's ``broker_transport_options``."""
        return {}

    @property
    def management_api(self) -> str | None:
        """The broker's HTTP management API, with the URL's credentials (Flower's Broker page), if it has one."""
        return None

    def organ_exchange(self, settings: Settings) -> Exchange:
        """The exchange the organ queues are bound to."""
        return EXCHANGE

    def countdown_s(self, settings: Settings, countdown_s: float) -> float:
        """The countdown a retry is sent with, for a wanted delay of ``countdown_s``."""
        return countdown_s

    def queue_arguments(self, settings: Settings, organ: str) -> dict[str, Any] | None:
        """The arguments ``organ``'s queue is declared with, if the broker takes any."""
        return None

    def dead_queue_arguments(self, settings: Settings) -> dict[str, Any] | None:
        """The arguments the dead-letter queue is declared with, if the broker enforces its retention itself."""
        return None

    def trim_dead_queue(self, channel: Any, settings: Settings) -> int:
        """Drop what the dead-letter queue keeps beyond its retention, where the broker does not do it itself;
        how many messages were dropped. Called after each message the app adds there."""
        return 0

    @abstractmethod
    def oldest_payloads(self, channel: Any, queue: str) -> list[str | bytes] | None:
        """The raw messages at the head of ``queue``, read without side effects; None where the broker cannot
        be read that way (observability.broker then bounds the age by when the queue was last seen empty)."""

    def reach(self, timeout_s: float) -> None:
        """Connect once, for ``organism doctor``; raises what the transport raised."""
        with Connection(self.url, connect_timeout=timeout_s) as connection:
            connection.ensure_connection(max_retries=1, timeout=timeout_s)
