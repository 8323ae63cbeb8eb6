"""The brokers Organism runs on, and the one place a broker URL's scheme is looked at: :func:`broker_for`."""

from __future__ import annotations

import re

from organism.brokers.amqp import AmqpBroker
from organism.brokers.base import Broker
from organism.brokers.redis import RedisBroker
from organism.brokers.sql import SqlBroker
from organism.settings import SettingsError

BROKERS: tuple[type[Broker], ...] = (AmqpBroker, RedisBroker, SqlBroker)
SUPPORTED = ", ".join(prefix if prefix.endswith("://") else f"{prefix}<database URL>"
                      for kind in BROKERS for prefix in kind.prefixes)
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")  # RFC 3986; anything else may be part of a secret


def broker_for(url: str) -> Broker:
    """The broker ``url`` names.

    Raises:
        SettingsError: the URL names no broker Organism runs on; the line names its scheme, never the rest.
    """
    kind = next((kind for kind in BROKERS if url.startswith(kind.prefixes)), None)
    if kind is None:
        scheme, found, _ = url.partition("://")
        problem = f"unsupported scheme {scheme}://" if found and _SCHEME.fullmatch(scheme) else "not a URL"
        raise SettingsError(f"setting ORGANISM_BROKER_URL: {problem}; use {SUPPORTED}")
    return kind(url)
