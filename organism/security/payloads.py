"""Sealing bytes with AES-256-GCM under named keys, and opening them again: a payload codec, as Temporal has.

A sealed payload is an *envelope*, a JSON object of text: ``{"key": <key id>, "nonce": <base64, 12 bytes>,
"ciphertext": <base64, ciphertext and 16-byte tag>}``. The key id says which key opens it, so keys can rotate:
the first key seals, every key listed opens (organism.security.payload_settings). Each payload is sealed with a
fresh random nonce, and bound to a *context* (associated data, here the skill's name): a ciphertext copied into
another skill's call does not open.

A payload that cannot be opened (its key is not configured, it was altered, it is malformed) raises
:class:`PayloadError`, a permanent error: retrying cannot help. Its message is what is wrong with the payload, to
follow its subject ("q1p0.x: its sealed arguments ..."); none says what the payload or a key holds.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from organism.errors import PermanentError

NONCE_BYTES = 12  # GCM's standard nonce: random 96 bits, safe for about 2**32 payloads per key
FIELDS = frozenset({"key", "nonce", "ciphertext"})
HOW_TO_CONFIGURE = "set ORGANISM_PAYLOADS__KEYS ([payloads] keys; `organism keys payload-key` makes one)"


class PayloadError(PermanentError):
    """A payload cannot be sealed (no key) or opened (unknown key, altered, malformed); says which, not what."""


def is_envelope(value: Any) -> bool:
    """Whether ``value`` has the shape of a sealed payload (it may still fail to open)."""
    return isinstance(value, Mapping) and set(value) == FIELDS


class Keyring:
    """Named 32-byte keys, newest first: the first seals, all open."""

    def __init__(self, keys: Mapping[str, bytes]) -> None:
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys.items()}

    @property
    def ids(self) -> list[str]:
        return list(self._ciphers)

    def seal(self, plaintext: bytes, context: bytes) -> dict[str, str]:
        """``plaintext`` sealed with the first key, bound to ``context``.

        Raises:
            PayloadError: no key is configured.
        """
        if not self._ciphers:
            raise PayloadError(f"no payload key is configured: {HOW_TO_CONFIGURE}")
        key_id, cipher = next(iter(self._ciphers.items()))
        nonce = os.urandom(NONCE_BYTES)
        return {"key": key_id, "nonce": _text(nonce), "ciphertext": _text(cipher.encrypt(nonce, plaintext, context))}

    def open(self, envelope: Any, context: bytes) -> bytes:
        """The plaintext of ``envelope``, which must have been sealed for ``context``.

        Raises:
            PayloadError: the envelope is malformed, names a key not configured, or fails authentication.
        """
        if not is_envelope(envelope):
            raise PayloadError(f"are not a sealed payload (an object of {', '.join(sorted(FIELDS))})")
        key_id = envelope["key"]
        cipher = self._ciphers.get(key_id) if isinstance(key_id, str) else None
        if cipher is None:
            configured = ", ".join(map(repr, self._ciphers)) or "none"
            raise PayloadError(f"need payload key {str(key_id)[:70]!r}, which is not configured (configured: "
                               f"{configured}); put it back in ORGANISM_PAYLOADS__KEYS to open them")
        try:
            nonce, ciphertext = _bytes(envelope["nonce"]), _bytes(envelope["ciphertext"])
        except (binascii.Error, ValueError, TypeError):
            raise PayloadError(f"are sealed with payload key {key_id!r}, but their nonce or ciphertext is not "
                               "base64 text") from None
        try:
            return cipher.decrypt(nonce, ciphertext, context)
        except (InvalidTag, ValueError):  # ValueError: a nonce of the wrong length
            raise PayloadError(f"fail authentication under payload key {key_id!r}: altered, sealed for another "
                               "skill, or sealed with another key of that id") from None


def _text(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _bytes(text: Any) -> bytes:
    if not isinstance(text, str):
        raise TypeError("not text")
    return base64.b64decode(text, validate=True)
