"""The deployment's audit key: the Ed25519 private key that signs each entry's hash, and its public key.

The key is the PEM file the ``audit_key_file`` setting names. Unset, it is ``<data_dir>/audit-key.pem``, made on
first use with mode 0600 and its public key written beside it (``audit-key.pub.pem``). Two processes making it at
once keep one: each writes its own to a temporary file and links it into place, which fails if the other's is
there already. Keep a copy of the public key elsewhere (``organism audit key`` prints it): whoever can replace the
key files can re-sign an edited trail, but not so that it verifies with the copy.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
    load_pem_public_key,
)

from organism.files import write_whole
from organism.settings import Settings

DEFAULT_NAME = "audit-key.pem"


class AuditKeyError(Exception):
    """The audit key is missing, unreadable or not an Ed25519 key; the message says which file and what to do."""


def key_path(settings: Settings) -> Path:
    """Where the private key is (or will be made)."""
    return settings.audit_key_file or settings.data_dir / DEFAULT_NAME


def public_path(private: Path) -> Path:
    """Where a generated key's public key is written: ``audit-key.pem`` → ``audit-key.pub.pem``."""
    return private.with_suffix(".pub.pem")


def signing_key(settings: Settings, create: bool = True) -> Ed25519PrivateKey:
    """The deployment's private key; the default one is made on first use if ``create``."""
    path = key_path(settings)
    if not path.exists():
        if settings.audit_key_file is not None:
            raise AuditKeyError(f"setting ORGANISM_AUDIT_KEY_FILE: no such file {path}; make the key with "
                                f"`openssl genpkey -algorithm ed25519 -out {path}` or unset the setting")
        if not create:
            raise AuditKeyError(f"no audit key at {path}: the first audited action makes it")
        _generate(path)
    return _load(path.resolve())


@functools.cache
def _load(path: Path) -> Ed25519PrivateKey:
    try:
        key = load_pem_private_key(path.read_bytes(), password=None)
    except OSError as error:
        raise AuditKeyError(f"audit key {path}: cannot be read ({error.strerror})") from None
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise AuditKeyError(f"audit key {path}: not a PEM private key without a passphrase") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise AuditKeyError(f"audit key {path}: a {type(key).__name__}, not an Ed25519 key")
    return key


def _generate(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = Ed25519PrivateKey.generate().private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    write_whole(path, pem, 0o600, exclusive=True)
    write_whole(public_path(path), public_pem(_load(path.resolve()).public_key()).encode(), 0o644)


def public_pem(public: Ed25519PublicKey) -> str:
    return public.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()


def read_public(path: Path) -> Ed25519PublicKey:
    """A public key kept in a PEM file (``organism audit key`` printed it)."""
    try:
        key = load_pem_public_key(path.read_bytes())
    except OSError as error:
        raise AuditKeyError(f"public key {path}: cannot be read ({error.strerror})") from None
    except (ValueError, UnsupportedAlgorithm):
        raise AuditKeyError(f"public key {path}: not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise AuditKeyError(f"public key {path}: a {type(key).__name__}, not an Ed25519 key")
    return key


def fingerprint(public: Ed25519PublicKey) -> str:
    """``SHA256:…``, the key's short name (SHA-256 of its raw bytes, base64 without padding, as OpenSSH writes)."""
    raw = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return "SHA256:" + base64.b64encode(hashlib.sha256(raw).digest()).decode().rstrip("=")


def sign(key: Ed25519PrivateKey, entry_hash: str) -> str:
    """The signature of an entry's hash (its 32 bytes), in hex."""
    return key.sign(bytes.fromhex(entry_hash)).hex()


def verifies(public: Ed25519PublicKey, entry_hash: str, signature: str) -> bool:
    """Whether ``signature`` is ``public``'s key's signature of ``entry_hash``."""
    try:
        public.verify(bytes.fromhex(signature), bytes.fromhex(entry_hash))
    except (InvalidSignature, ValueError):
        return False
    return True
