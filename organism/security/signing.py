"""Message signing: the app signs every message it publishes and accepts only signed ones.

This is Celery's own ``auth`` serializer (celery/security): the JSON body of each message is signed with an RSA
key (PSS padding, the settings' digest) and sent with the signer's certificate id; a consumer verifies it against
the certificates of its store before it decodes anything. Turned on by ``[signing] enabled``, it makes
``task_serializer`` ``auth`` and ``accept_content`` ``["auth"]``, so task messages and remote-control messages
(revoke, shutdown, inspect) are signed; results stay JSON, and task events stay JSON too (they order nothing).

Celery signs the body only: the task name and id travel in the headers. So that a signed body cannot be sent
again under another task or id, each body also names the task and id it was published for (:data:`BOUND`, in
the body's embed mapping, which Celery passes through); a worker refuses a body whose names differ from the
headers (organism.security.refusals).

Celery installs the serializer in kombu's registry, which is global: a process has one signing identity, that
of the last app set up with signing on.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from celery import Celery, signals
from celery.exceptions import SecurityError
from celery.security.certificate import Certificate, FSCertStore
from celery.security.key import PrivateKey
from celery.security.utils import get_digest_algorithm

from organism.settings import Settings, SettingsError

SIGNED_CONTENT_TYPE = "application/data"  # what Celery's auth serializer registers its messages as
BOUND = "organism_for"  # embed key: {"task": ..., "id": ...}, the task and id a body was published for
_WHERE = "ORGANISM_SIGNING__"


@dataclass(frozen=True)
class SigningFiles:
    """The files signing reads, as resolved from settings (unset paths under ``<data_dir>/signing``)."""

    key: Path
    certificate: Path
    store: Path


def files(settings: Settings) -> SigningFiles:
    signing = settings.signing
    return SigningFiles(signing.key_path(settings.data_dir), signing.certificate_path(settings.data_dir),
                        signing.store_path(settings.data_dir))


def check(settings: Settings) -> None:
    """Make sure signing, if on, can sign and verify: each file readable and valid, the certificate the key's
    and unexpired, and trusted by the store (or this process's own messages would be refused).

    Raises:
        SettingsError: one line naming the setting, the file and the fix.
    """
    if not settings.signing.enabled:
        return
    found = files(settings)
    password = settings.signing.key_password
    key = _load(f"{_WHERE}KEY_FILE", found.key, lambda text: PrivateKey(
        text, password=password.get_secret_value() if password else None))
    certificate = _load(f"{_WHERE}CERTIFICATE_FILE", found.certificate, Certificate)
    if certificate.has_expired():
        raise SettingsError(f"setting {_WHERE}CERTIFICATE_FILE: {found.certificate} expired; make a new key and "
                            "certificate (`organism keys generate --force`) and put the certificate in the store")
    digest, probe = get_digest_algorithm(settings.signing.digest), b"organism signing check"
    try:
        certificate.verify(probe, key.sign(probe, digest), digest)
    except (SecurityError, TypeError):  # a bad signature raises TypeError in Celery 5.7 (celery/celery#5692)
        raise SettingsError(f"setting {_WHERE}CERTIFICATE_FILE: {found.certificate} is not the certificate of "
                            f"{found.key}; name the certificate `organism keys generate` wrote with that key") from None
    if not found.store.exists():
        raise SettingsError(f"setting {_WHERE}CERT_STORE: no such file or directory {found.store}")
    try:
        store = FSCertStore(str(found.store))
    except (SecurityError, OSError, UnicodeDecodeError) as error:
        raise SettingsError(f"setting {_WHERE}CERT_STORE: {found.store}: {error} (it must hold PEM certificates "
                            "only, none expired)") from None
    try:
        store[certificate.get_id()]
    except SecurityError:
        raise SettingsError(f"setting {_WHERE}CERT_STORE: {found.store} does not hold {found.certificate}: the "
                            "workers would refuse every message this process signs; copy the certificate "
                            "into it") from None


def _load(setting: str, path: Path, parse: Any) -> Any:
    """``parse`` of the text of ``path``; any problem is one line naming ``setting``."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SettingsError(f"setting {setting}: no such file {path}; `organism keys generate` makes the key "
                            "and certificate") from None
    except (OSError, UnicodeDecodeError) as error:
        raise SettingsError(f"setting {setting}: {path} cannot be read ({getattr(error, 'strerror', error)})") \
            from None
    try:
        return parse(text)
    except (SecurityError, TypeError, ValueError) as error:  # the key's passphrase wrong or missing: TypeError
        raise SettingsError(f"setting {setting}: {path}: {_reason(error)}") from None


def _reason(error: Exception) -> str:
    text = str(error)
    if "password" in text.lower():
        return f"{text} (check {_WHERE}KEY_PASSWORD)"
    return text or type(error).__name__


def celery_options(settings: Settings) -> dict[str, Any]:
    """The Celery settings signing changes (none when it is off). The passphrase is not among them: Celery's
    configuration can be shown (``celery inspect conf``), so :func:`install` hands it over directly."""
    if not settings.signing.enabled:
        return {}
    found = files(settings)
    return {"task_serializer": "auth", "accept_content": ["auth"], "security_key": str(found.key),
            "security_certificate": str(found.certificate), "security_cert_store": str(found.store),
            "security_digest": settings.signing.digest}


def install(app: Celery, settings: Settings) -> None:
    """Register the ``auth`` serializer with this app's key, certificate and store, if signing is on.

    Raises:
        SettingsError: a file is missing or wrong (:func:`check`).
    """
    if not settings.signing.enabled:
        return
    check(settings)
    password = settings.signing.key_password
    # JSON stays the one other serializer anything may decode (results, events); pickle and the rest stay off.
    app.setup_security(allowed_serializers=["json"], key_password=password.get_secret_value() if password else None,
                       digest=settings.signing.digest, serializer="json")


@signals.before_task_publish.connect
def _bind(body: Any = None, headers: dict[str, Any] | None = None, **_: Any) -> None:
    # Every body, signed or not: which app publishes is not known here, and the names cost a few bytes.
    if headers is not None and isinstance(body, tuple | list) and len(body) == 3 and isinstance(body[2], dict):
        body[2][BOUND] = {"task": headers.get("task"), "id": headers.get("id")}
