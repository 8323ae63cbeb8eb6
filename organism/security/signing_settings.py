"""The message-signing part of the settings: ``ORGANISM_SIGNING__*`` variables or a ``[signing]`` table in TOML.

Off by default. On, every process that uses the app (workers, beat, the CLI, the console, Flower) signs each
message it publishes with ``key_file`` and accepts only messages signed by a certificate in ``cert_store``
(organism/security/signing.py). ``organism keys generate`` makes the files. Paths left unset are under
``<data_dir>/signing``, where that command writes by default.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

DEFAULT_DIR = "signing"
KEY_NAME = "organism-key.pem"
CERTIFICATE_NAME = "organism-cert.pem"


class SigningSettings(BaseModel):
    """Whether messages are signed, with which key and certificate, and which certificates are trusted."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(default=False, description=(
        "Sign every message Organism publishes and accept only signed ones (Celery's auth serializer). Every "
        "process needs the key, its certificate and the store."))
    key_file: Path | None = Field(default=None, description=(
        f"PEM file of the RSA private key that signs (mode 0600); unset: <data_dir>/{DEFAULT_DIR}/{KEY_NAME}."))
    certificate_file: Path | None = Field(default=None, description=(
        f"PEM file of the key's X.509 certificate; unset: <data_dir>/{DEFAULT_DIR}/{CERTIFICATE_NAME}."))
    cert_store: Path | None = Field(default=None, description=(
        "The certificates whose signatures are accepted: a directory of PEM files (nothing else in it), or one "
        "file; unset: certificate_file alone. It must hold this process's own certificate."))
    key_password: SecretStr | None = Field(default=None, description=(
        "Passphrase of an encrypted key_file; unset: the key is not encrypted. Never logged."))
    digest: Literal["sha256", "sha384", "sha512"] = Field(default="sha256", description=(
        "Hash signed with RSA-PSS; every process must use the same."))

    @field_validator("key_password", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        """An empty value (``KEY_PASSWORD=`` in a compose file) means no passphrase."""
        return None if value == "" else value

    def key_path(self, data_dir: Path) -> Path:
        return self.key_file or data_dir / DEFAULT_DIR / KEY_NAME

    def certificate_path(self, data_dir: Path) -> Path:
        return self.certificate_file or data_dir / DEFAULT_DIR / CERTIFICATE_NAME

    def store_path(self, data_dir: Path) -> Path:
        return self.cert_store or self.certificate_path(data_dir)
