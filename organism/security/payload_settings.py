"""The payload keys: ``ORGANISM_PAYLOADS__KEYS`` or ``[payloads] keys`` in the TOML.

A mapping of key id to a base64 AES-256 key (32 bytes), newest first: the first key seals every call of a skill
declared sensitive, and every key listed still opens what it sealed, so a key is rotated by putting a new one
first and dropping the old one once no message or dead letter sealed with it is left (docs/security.md).
``organism keys payload-key`` makes one.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
from collections.abc import Mapping

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

KEY_BYTES = 32  # AES-256
KEY_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
SETTING = "ORGANISM_PAYLOADS__KEYS"
MAKE_ONE = "organism keys payload-key"


class PayloadSettings(BaseModel):
    """The keys that seal and open the arguments of skills declared sensitive."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    keys: dict[str, SecretStr] = Field(default_factory=dict, description=(
        'Key id to base64 AES-256 key, newest first, e.g. {"2026-05": "...", "2026-01": "..."}: the first seals, '
        "all open. Unset: a skill declared sensitive cannot be called. Never logged."))

    @model_validator(mode="before")
    @classmethod
    def _well_formed(cls, given: object) -> object:
        # Checked here, before any field, so that no error quotes a key: pydantic shows a field's input, and the
        # settings' error lines show any input that is not a mapping (this one's input is the whole group).
        value = given.get("keys", {}) if isinstance(given, Mapping) else {}
        if not isinstance(value, Mapping):
            raise ValueError(f'{SETTING} must map key ids to base64 keys, e.g. {{"2026-05": "<{MAKE_ONE}>"}}')
        for key_id, key in value.items():
            if not isinstance(key_id, str) or not KEY_ID.fullmatch(key_id):
                raise ValueError(f"{SETTING}: key id {str(key_id)[:70]!r} must be 1 to 64 letters, digits, '.', '_' "
                                 "or '-'")
            secret = key.get_secret_value() if isinstance(key, SecretStr) else key
            if not isinstance(secret, str) or len(_decoded(secret)) != KEY_BYTES:
                raise ValueError(f"{SETTING}: key {key_id!r} is not {KEY_BYTES} bytes in base64 (its value is not "
                                 f"shown); `{MAKE_ONE}` makes one")
        return given

    @functools.cached_property
    def secrets(self) -> dict[str, bytes]:
        """Each key id's 32 key bytes, in the order given (the first seals)."""
        return {key_id: _decoded(key.get_secret_value()) for key_id, key in self.keys.items()}


def _decoded(text: str) -> bytes:
    """``text`` read as standard or URL-safe base64; empty if it is neither."""
    try:
        return base64.b64decode(text.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        return b""


def new_key() -> str:
    """A fresh random AES-256 key, base64: what one entry of ``keys`` holds."""
    return base64.b64encode(AESGCM.generate_key(bit_length=256)).decode()
