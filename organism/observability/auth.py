"""Who may read: the operator's HTTP basic credentials (``ORGANISM_OBSERVABILITY__USERNAME/PASSWORD``), and for
``/metrics`` also Prometheus' bearer token (``ORGANISM_OBSERVABILITY__SCRAPE_TOKEN``).

One check serves the console and the metrics exporter; Flower is given the same pair (ops_cli.py). Secrets are
compared with :func:`hmac.compare_digest`, in constant time.
"""

from __future__ import annotations

import base64
import binascii
import hmac

from organism.observability.settings import ObservabilitySettings

REALM = 'Basic realm="organism", charset="UTF-8"'


def authorized(header: str | None, settings: ObservabilitySettings) -> bool:
    """Whether an ``Authorization`` header carries the operator's credentials (never, without a password)."""
    if settings.password is None or not header:
        return False
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        given = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    expected = f"{settings.username}:{settings.password.get_secret_value()}".encode()
    return hmac.compare_digest(given, expected)


def may_scrape(header: str | None, settings: ObservabilitySettings) -> bool:
    """Whether an ``Authorization`` header may read ``/metrics``: the scrape token (``Bearer``) or the operator."""
    scheme, _, token = (header or "").partition(" ")
    if settings.scrape_token is not None and scheme.lower() == "bearer":
        return hmac.compare_digest(token.strip().encode(), settings.scrape_token.get_secret_value().encode())
    return authorized(header, settings)


def flower_credentials(settings: ObservabilitySettings) -> str | None:
    """The ``user:password`` Flower's ``--basic-auth`` expects, or None without a password."""
    if settings.password is None:
        return None
    return f"{settings.username}:{settings.password.get_secret_value()}"
