"""Who may read without a session: a named operator's HTTP basic credentials (organism/operators.py), and for
``/metrics`` also Prometheus' bearer token (``ORGANISM_OBSERVABILITY__SCRAPE_TOKEN``).

Scripts and Prometheus use these; browsers sign in to the console and Flower with a form and a signed session.
The scrape token is compared with :func:`hmac.compare_digest`, in constant time.
"""

from __future__ import annotations

import base64
import binascii
import hmac

from organism import operators
from organism.observability.settings import ObservabilitySettings

REALM = 'Basic realm="organism", charset="UTF-8"'


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    """The (name, password) of a ``Basic`` ``Authorization`` header, or None for any other header."""
    scheme, _, encoded = (header or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        name, colon, password = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
    except (binascii.Error, ValueError):
        return None
    return (name, password) if colon else None


def operator_of(header: str | None, url: str, source: str) -> operators.Account | None:
    """The operator whose basic credentials ``header`` carries (None while its name must wait, see operators)."""
    given = basic_credentials(header)
    if given is None:
        return None
    try:
        return operators.authenticate(url, *given, source=source)
    except operators.TooManyFailures:
        return None


def may_scrape(header: str | None, settings: ObservabilitySettings, url: str, source: str) -> bool:
    """Whether an ``Authorization`` header may read ``/metrics``: the scrape token (``Bearer``) or an operator."""
    scheme, _, token = (header or "").partition(" ")
    if settings.scrape_token is not None and scheme.lower() == "bearer":
        return hmac.compare_digest(token.strip().encode(), settings.scrape_token.get_secret_value().encode())
    return operator_of(header, url, source) is not None
