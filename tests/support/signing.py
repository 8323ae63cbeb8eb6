"""Keys and signed bodies for the signing tests, and undoing what signing does to kombu's global registry."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from celery.security.certificate import Certificate
from celery.security.key import PrivateKey
from celery.security.serialization import SecureSerializer
from kombu import serialization

from organism.security.signing_keys import Generated, generate


def make_keys(directory: Path, name: str, password: str | None = None, days: int = 30) -> Generated:
    """A fresh 2048-bit key and its certificate in ``directory`` (the smallest size keeps the tests quick)."""
    return generate(directory / "key.pem", directory / "cert.pem", name, days=days, bits=2048, password=password)


def signed_by(key: Path, certificate: Path, body: Any, password: str | None = None) -> str:
    """``body`` as JSON signed with ``key`` under ``certificate``'s name, as Celery's auth serializer sends it
    (built here, so that the registry keeps the app's own identity)."""
    serializer = SecureSerializer(PrivateKey(key.read_text(), password=password), Certificate(certificate.read_text()),
                                  digest="sha256", serializer="json")
    return str(serializer.serialize(body))


@contextmanager
def signing_undone() -> Iterator[None]:
    """Leave kombu's registry as it was once the block is done: Celery's setup of signing is process-wide (it
    registers ``auth`` and makes it the default serializer), and later tests in this process use JSON."""
    try:
        yield
    finally:
        if "auth" in serialization.registry._encoders:
            serialization.unregister("auth")
        serialization.registry._set_default_serializer("json")  # kombu has no public way back
