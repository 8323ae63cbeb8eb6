"""kombu's Redis transport, made to survive an item on a queue's list that is not a kombu message.

On Redis a message is a JSON envelope that any client can push onto a list. kombu parses it with no guard: an
item that is not JSON, or JSON without the envelope's fields, raises inside the worker's event loop and stops
the worker's main process (``Unrecoverable error: JSONDecodeError``). The item has already been popped, so it
would be lost as well. Here such an item is handed, whole, to :func:`organism.bad_messages.envelope_refused`,
which dead-letters it, and the worker goes on.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from kombu.transport import redis

TRANSPORT = "organism.redis_transport:Transport"


def envelope_problem(envelope: Any) -> str | None:
    """What keeps ``envelope`` from being a kombu message, in one phrase; None when nothing does."""
    if not isinstance(envelope, Mapping):
        return f"the item is a JSON {type(envelope).__name__}, not a message envelope"
    properties = envelope.get("properties")
    if not isinstance(properties, Mapping):
        return "the envelope has no properties"
    if not isinstance(properties.get("delivery_tag"), str):
        return "the envelope has no delivery tag"
    if not isinstance(properties.get("delivery_info"), Mapping | None):
        return "the envelope's delivery info is not a mapping"
    if not isinstance(envelope.get("headers"), Mapping | None):
        return "the envelope's headers are not a mapping"
    if not isinstance(envelope.get("body"), str | None):
        return "the envelope's body is not text"
    for field in ("content-type", "content-encoding"):
        if not isinstance(envelope.get(field), str | None):
            return f"the envelope's {field} is not text"
    return None


class Channel(redis.Channel):
    def _brpop_read(self, **options: Any) -> bool:
        try:
            return bool(super()._brpop_read(**options))
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            # Both errors carry the whole item (``doc``, ``object``): kombu rotated the queue it came from to the
            # end of its cycle just before parsing it.
            raw = error.doc if isinstance(error, json.JSONDecodeError) else error.object
            _refuse(raw, self._queue_cycle.items[-1], f"the item is not a JSON message envelope ({error})")
            return True


class Transport(redis.Transport):
    Channel = Channel

    def _deliver(self, message: Any, queue: str | None) -> None:
        found = envelope_problem(message)
        if found is None:
            try:
                return super()._deliver(message, queue)
            except (KeyError, TypeError, ValueError) as error:  # kombu's Message() on an envelope it cannot read
                found = f"kombu could not read the envelope ({type(error).__name__}: {error})"
        _refuse(json.dumps(message, default=str), queue, found)
        return None


def _refuse(raw: str | bytes, queue: str | None, reason: str) -> None:
    from organism import bad_messages  # the transport is loaded by kombu before the app's modules

    bad_messages.envelope_refused(raw, queue, reason)
