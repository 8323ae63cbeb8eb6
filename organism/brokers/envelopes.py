"""Items a transport hands over that are not kombu messages: found, dead-lettered whole, and the worker goes on.

On Redis and on the SQL transport a message is a JSON envelope that any client can write. kombu parses it with
no guard: an item that is not JSON, or JSON without the envelope's fields, raises inside the worker's event loop
and stops the worker's main process (``Unrecoverable error: JSONDecodeError``). The item has already been taken
off its queue, so it would be lost as well. The transports of .redis_transport and .embedded
hand such an item to :func:`refuse`, which dead-letters it (organism.failures.bad_messages), and deliver the rest.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

# The errors kombu's parsing of an item raises; both carry the whole item (``doc``, ``object``).
UNPARSEABLE = (json.JSONDecodeError, UnicodeDecodeError)


def problem(envelope: Any) -> str | None:
    """What keeps ``envelope`` from being a kombu message, in one phrase; None when nothing does."""
    if not isinstance(envelope, Mapping):
        return f"the item is a JSON {type(envelope).__name__}, not a message envelope"
    properties = envelope.get("properties")
    if not isinstance(properties, Mapping):
        return "the envelope has no properties"
    if not isinstance(properties.get("delivery_tag"), str | int):
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


def unparseable(error: json.JSONDecodeError | UnicodeDecodeError, queue: str | None) -> None:
    """Dead-letter the item kombu could not parse, as the error holds it."""
    raw = error.doc if isinstance(error, json.JSONDecodeError) else error.object
    refuse(raw, queue, f"the item is not a JSON message envelope ({error})")


class Delivering:
    """Mixin for a kombu virtual ``Transport``: an envelope is checked before kombu builds a message of it."""

    def _deliver(self, message: Any, queue: str | None) -> None:
        found = problem(message)
        if found is None:
            try:
                return super()._deliver(message, queue)  # type: ignore[misc]
            except (KeyError, TypeError, ValueError) as error:  # kombu's Message() on an envelope it cannot read
                found = f"kombu could not read the envelope ({type(error).__name__}: {error})"
        refuse(json.dumps(message, default=str), queue, found)
        return None


def refuse(raw: str | bytes, queue: str | None, reason: str) -> None:
    from organism.failures import bad_messages  # kombu loads the transport before the app's modules

    bad_messages.envelope_refused(raw, queue, reason)
