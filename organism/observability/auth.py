"""The operator account: HTTP basic credentials checked against ``ORGANISM_OBSERVABILITY__USERNAME/PASSWORD``.

One check serves the console and the metrics exporter; Flower is given the same pair (ops_cli.py).
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


def flower_credentials(settings: ObservabilitySettings) -> str | None:
    """The ``user:password`` Flower's ``--basic-auth`` expects, or None without a password."""
    if settings.password is None:
        return None
    return f"{settings.username}:{settings.password.get_secret_value()}"
