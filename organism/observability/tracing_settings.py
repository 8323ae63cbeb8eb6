"""The tracing part of the settings: ``ORGANISM_TRACING__*`` variables or a ``[tracing]`` table in the TOML.

Tracing is off until ``otlp_endpoint`` names a collector (Jaeger, the OpenTelemetry Collector, a vendor's OTLP
intake): then every process that uses the app sends its spans there over OTLP/HTTP (organism/observability/otel.py).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

TRACES_PATH = "/v1/traces"
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # an HTTP token (RFC 9110)


class TracingSettings(BaseModel):
    """Where spans go, under which service name, and how many runs are traced."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    otlp_endpoint: str | None = Field(default=None, description=(
        "The collector's OTLP/HTTP address, e.g. http://127.0.0.1:4318 (/v1/traces is added unless the path "
        "ends with it); unset: no tracing, and nothing of OpenTelemetry is imported."))
    headers: dict[str, SecretStr] = Field(default_factory=dict, description=(
        'HTTP headers sent with each export, e.g. {"authorization": "Bearer ..."}; never logged.'))
    service_name: str = Field(default="organism", min_length=1, description="The spans' service.name.")
    sample_ratio: float = Field(default=1.0, ge=0, le=1, description=(
        "Share of runs (and of calls outside runs) traced, decided from the trace id, so every process "
        "keeps or drops the same runs whole."))
    export_timeout_s: float = Field(default=10, gt=0, description="How long one export may take, retries included.")

    @field_validator("otlp_endpoint", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        """An empty value (``OTLP_ENDPOINT=`` in a compose file) means no tracing."""
        return None if value == "" else value

    @field_validator("otlp_endpoint")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
            raise ValueError("must be the collector's http(s) URL without query, e.g. http://127.0.0.1:4318")
        return value

    @field_validator("headers")
    @classmethod
    def _header_names(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        wrong = [name for name in value if not _HEADER_NAME.fullmatch(name)]
        if wrong:
            raise ValueError(f"not an HTTP header name: {', '.join(map(repr, wrong))}")
        return value

    @property
    def enabled(self) -> bool:
        return self.otlp_endpoint is not None

    @property
    def traces_url(self) -> str:
        """The URL spans are posted to."""
        assert self.otlp_endpoint is not None, "tracing is off"
        base = self.otlp_endpoint.rstrip("/")
        return base if base.endswith(TRACES_PATH) else base + TRACES_PATH
