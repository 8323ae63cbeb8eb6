"""The gateway's part of the settings: ``ORGANISM_GATEWAY__*`` variables or a ``[gateway]`` table in the TOML.

With no ``base_url`` no model is configured: model-using skills take their deterministic path and say so,
which keeps the embedded demo working offline. Durations are in seconds (``_s``), money in US dollars.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator


class GatewaySettings(BaseModel):
    """How to reach the model API and how hard to lean on it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_url: str | None = Field(default=None, description="OpenAI-compatible API base, e.g. "
                                                           "http://127.0.0.1:11434/v1; unset means no model.")
    api_key: SecretStr | None = Field(default=None, description="Sent as a bearer token; never logged or stored.")
    model: str | None = Field(default=None, description="The model skills use, e.g. gpt-4o-mini.")
    json_mode: Literal["json_schema", "json_object", "none"] = Field(
        default="json_schema", description="How structured replies are requested: json_object for providers "
                                           "without structured outputs, none for those without either.")
    temperature: float | None = Field(default=0.2, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1)
    connect_timeout_s: float = Field(default=5, gt=0)
    read_timeout_s: float = Field(default=120, gt=0, description="Must leave room below the soft time limit.")

    max_concurrency: int = Field(default=3, ge=1, description="Calls in flight per endpoint, cluster-wide.")
    lease_ttl_s: float = Field(default=30, gt=0, description="A dead holder's permit is free after at most this.")
    permit_poll_s: float = Field(default=0.05, gt=0, description="How soon the first waiters try again.")
    max_wait_s: float = Field(default=10, gt=0, description="The longest a waiting call is told to stay away.")

    breaker_failures: int = Field(default=5, ge=1, description="Consecutive failures that open a circuit.")
    breaker_cooldown_s: float = Field(default=30, gt=0, description="How long a circuit stays open before a probe.")
    default_pause_s: float = Field(default=5, gt=0, description="Pause after a 429 without Retry-After.")
    max_pause_s: float = Field(default=300, gt=0, description="Cap on a server's Retry-After.")
    requests_per_minute: int | None = Field(default=None, ge=1)
    tokens_per_minute: int | None = Field(default=None, ge=1)

    daily_budget_usd: float | None = Field(default=None, ge=0, description="Today's spend (in the configured "
                                                                         "time zone) that stops model calls.")
    run_budget_usd: float | None = Field(default=None, ge=0, description="One run's spend that stops its calls.")
    cny_per_usd: float = Field(default=7.2, gt=0, description="Rate for the CNY column of `organism ledger`.")
    prices_file: Path = Path("config/prices.toml")
    prompts_dir: Path = Path("config/prompts")

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://, e.g. http://127.0.0.1:8900/v1")
        return value.rstrip("/")

    @property
    def configured(self) -> bool:
        """Whether a model is configured at all (a base URL and a model name)."""
        return bool(self.base_url and self.model)
