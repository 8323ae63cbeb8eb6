"""Redis (``redis://``, ``rediss://``): kombu's transport made to survive an item that is no message
(:mod:`.redis_transport`), with unacked messages restored soon after their visibility timeout."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from organism.brokers import redis_transport
from organism.brokers.base import Broker
from organism.brokers.queues import DEAD_LETTER_QUEUE
from organism.headers import PUBLISHED_HEADER
from organism.priorities import HIGHEST_NUMBER, NUMBERS

if TYPE_CHECKING:
    from organism.settings import Settings

# Trims one queue's lists at once, so two workers trimming together never drop a message the other kept.
# KEYS: the lists; ARGV: how many a list keeps (0: no cap), the publish time before which an item is dropped
# (0: none), and the header that holds it. kombu pushes left and pops right: the oldest item is the last. An item
# without the header (written before the retention, or by something else) counts as older than any.
_TRIM = """
local dropped, keep, oldest_kept = 0, tonumber(ARGV[1]), tonumber(ARGV[2])
for _, key in ipairs(KEYS) do
  if keep > 0 then
    local extra = redis.call('LLEN', key) - keep
    if extra > 0 then
      redis.call('LTRIM', key, 0, keep - 1)
      dropped = dropped + extra
    end
  end
  while oldest_kept > 0 do
    local item = redis.call('LINDEX', key, -1)
    if not item then break end
    local ok, message = pcall(cjson.decode, item)
    local stamp = nil
    if ok and type(message) == 'table' and type(message.headers) == 'table' then
      stamp = tonumber(message.headers[ARGV[3]])
    end
    if stamp and stamp >= oldest_kept then break end
    redis.call('RPOP', key)
    dropped = dropped + 1
  end
end
return dropped
"""


class RedisBroker(Broker):
    prefixes = ("redis://", "rediss://")
    transport = redis_transport.TRANSPORT
    start = "start Redis (scripts/services, or `docker compose up -d redis`)"

    def transport_options(self, settings: Settings) -> dict[str, Any]:
        # kombu sweeps for expired unacked messages every 10 s x unacked_restore_throttle (default 10): a killed
        # worker's messages would return up to 100 s after the visibility timeout. Sweep every 10 s instead.
        # One list per priority level, each level's number filed under 9 - number (organism.brokers.redis_transport).
        return {"visibility_timeout": settings.redis_visibility_timeout_s, "unacked_restore_throttle": 1,
                "priority_steps": sorted(HIGHEST_NUMBER - number for number in NUMBERS.values())}

    def oldest_payloads(self, channel: Any, queue: str) -> list[str | bytes]:
        """The oldest element of each priority list, peeked with ``LINDEX`` (kombu pushes left, pops right)."""
        with channel.conn_or_acquire() as client:
            raw = [client.lindex(channel._q_for_pri(queue, pri), -1) for pri in channel.priority_steps]
        return [item for item in raw if item is not None]

    def trim_dead_queue(self, channel: Any, settings: Settings) -> int:
        """Each of the dead-letter queue's lists keeps its newest ``dead_queue_max_length`` items, none older
        than ``dead_queue_max_age_s`` (by the publish time every copy carries); one script, atomic."""
        if not (settings.dead_queue_max_length or settings.dead_queue_max_age_s):
            return 0
        oldest_kept = time.time() - settings.dead_queue_max_age_s if settings.dead_queue_max_age_s else 0
        lists = [channel._q_for_pri(DEAD_LETTER_QUEUE, pri) for pri in channel.priority_steps]
        with channel.conn_or_acquire() as client:
            return int(client.register_script(_TRIM)(keys=lists, args=[settings.dead_queue_max_length,
                                                                       oldest_kept, PUBLISHED_HEADER]))
