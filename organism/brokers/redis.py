"""Redis (``redis://``, ``rediss://``): kombu's transport made to survive an item that is no message
(:mod:`.redis_transport`), with unacked messages restored soon after their visibility timeout."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from organism.brokers import redis_transport
from organism.brokers.base import Broker

if TYPE_CHECKING:
    from organism.settings import Settings


class RedisBroker(Broker):
    prefixes = ("redis://", "rediss://")
    transport = redis_transport.TRANSPORT
    start = "start Redis (scripts/services, or `docker compose up -d redis`)"

    def transport_options(self, settings: Settings) -> dict[str, Any]:
        # kombu sweeps for expired unacked messages every 10 s x unacked_restore_throttle (default 10): a killed
        # worker's messages would return up to 100 s after the visibility timeout. Sweep every 10 s instead.
        return {"visibility_timeout": settings.redis_visibility_timeout_s, "unacked_restore_throttle": 1}

    def oldest_payloads(self, channel: Any, queue: str) -> list[str | bytes]:
        """The oldest element of each priority list, peeked with ``LINDEX`` (kombu pushes left, pops right)."""
        with channel.conn_or_acquire() as client:
            raw = [client.lindex(channel._q_for_pri(queue, pri), -1) for pri in channel.priority_steps]
        return [item for item in raw if item is not None]
