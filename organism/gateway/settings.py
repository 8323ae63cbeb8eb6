"""The gateway's part of the settings: ``ORGANISM_GATEWAY__*`` variables or a ``[gateway]`` table in the TOML.

With no ``base_url`` and no route no model is configured: model-using skills take their deterministic path and
say so, which keeps the embedded demo working offline. ``base_url`` and ``model`` alone declare the route
``default`` with that one endpoint; ``[gateway.routes.<alias>]`` declares more (``ORGANISM_GATEWAY__ROUTES`` as
JSON), and ``[gateway.policies.<skill>]`` or ``[gateway.policies."organ.<organ>"]`` says what a skill may do.
Each model here checks itself; what spans several (a policy naming a route, a price, a key file) is checked when
the app starts (:func:`organism.gateway.routes.problems`). Durations are in seconds (``_s``), money in US dollars.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

DEFAULT_ROUTE = "default"  # the route that base_url and model declare
Strategy = Literal["weighted", "least_in_flight", "failover"]


def endpoint_name(base_url: str) -> str:
    """The base URL without credentials, query or fragment: an endpoint's name unless it is given one."""
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


def _http_url(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    if not value.startswith(("http://", "https://")):
        raise ValueError("must start with http:// or https://, e.g. http://127.0.0.1:8900/v1")
    return value.rstrip("/")


class EndpointSettings(BaseModel):
    """One endpoint of a route: where, which model, its key, its share, its limits and its prices.

    Limits left unset are the gateway's (``max_concurrency``, ``requests_per_minute``, ``tokens_per_minute``);
    prices left unset are looked up in the price file by model name. An endpoint named in several routes is one
    endpoint (one breaker, one semaphore), so it must be declared alike in each, its weight aside.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = Field(default=None, min_length=1, max_length=300, description=(
        "Its key in the shared state and the ledger; default: the base URL without credentials."))
    base_url: str = Field(description="OpenAI-compatible API base, e.g. https://api.openai.com/v1.")
    model: str = Field(min_length=1, description="The model this endpoint is asked for.")
    api_key: SecretStr | None = Field(default=None, description="Sent as a bearer token; never logged or stored.")
    api_key_file: Path | None = Field(default=None, description="A file holding the key (a mounted secret).")
    weight: float = Field(default=1.0, ge=0, description="Its share under the weighted strategy; 0: standby.")
    max_concurrency: int | None = Field(default=None, ge=1)
    requests_per_minute: int | None = Field(default=None, ge=1)
    tokens_per_minute: int | None = Field(default=None, ge=1)
    input_usd_per_mtok: float | None = Field(default=None, ge=0)
    output_usd_per_mtok: float | None = Field(default=None, ge=0)

    @field_validator("base_url")
    @classmethod
    def _http(cls, value: str) -> str:
        url = _http_url(value)
        if url is None:
            raise ValueError("an endpoint needs a base URL, e.g. http://127.0.0.1:8900/v1")
        return url

    @model_validator(mode="after")
    def _one_key_and_both_prices(self) -> Self:
        if self.api_key is not None and self.api_key_file is not None:
            raise ValueError("give api_key or api_key_file, not both")
        if (self.input_usd_per_mtok is None) != (self.output_usd_per_mtok is None):
            raise ValueError("give both input_usd_per_mtok and output_usd_per_mtok, or neither")
        return self

    @property
    def key(self) -> str:
        """The endpoint's name: given, or its base URL without credentials."""
        return self.name or endpoint_name(self.base_url)


class RouteSettings(BaseModel):
    """A model alias skills ask for, and the endpoints that serve it, in order."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    strategy: Strategy = Field(default="weighted", description=(
        "weighted: shares by weight, cluster-wide; least_in_flight: the endpoint with the fewest calls in "
        "flight cluster-wide; failover: the first available in order."))
    endpoints: tuple[EndpointSettings, ...] = ()

    @model_validator(mode="after")
    def _served(self) -> Self:
        if not self.endpoints:
            raise ValueError("a route needs at least one endpoint ([[gateway.routes.<alias>.endpoints]])")
        if self.strategy == "weighted" and not any(e.weight > 0 for e in self.endpoints):
            raise ValueError("every weight is 0: give at least one endpoint a weight above 0")
        return self


class PolicySettings(BaseModel):
    """What the skill (or, as a default for its skills, the organ) may do; unset means no limit.

    A skill's policy overrides its organ's field by field. Limits count each skill's own calls.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    routes: tuple[str, ...] | None = Field(default=None, description="The routes it may use; unset: any.")
    route: str | None = Field(default=None, description=(
        "The route its calls take unless they name one; default: the gateway's, if allowed, else the first "
        "allowed."))
    requests_per_minute: int | None = Field(default=None, ge=1, description="Its calls per minute; more wait.")
    daily_tokens: int | None = Field(default=None, ge=0, description=(
        "Tokens per day (in ORGANISM_TIMEZONE) past which its calls are refused."))
    max_tokens: int | None = Field(default=None, ge=1, description=(
        "The most completion tokens one call may ask for (sent as max_tokens when the call names none)."))


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

    routes: dict[str, RouteSettings] = Field(default_factory=dict, description=(
        "Model aliases skills ask for, each with its endpoints and strategy."))
    default_route: str | None = Field(default=None, description=(
        "The route of a call that names none; default: 'default' if declared, else the first route."))
    policies: dict[str, PolicySettings] = Field(default_factory=dict, description=(
        "By skill name, or 'organ.<organ>' as the default of an organ's skills."))

    @field_validator("base_url")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        return _http_url(value)

    @property
    def configured(self) -> bool:
        """Whether a model is configured at all (a base URL and a model name, or a route)."""
        return bool(self.base_url and self.model) or bool(self.routes)

    @property
    def all_routes(self) -> dict[str, RouteSettings]:
        """The declared routes, after ``default`` if ``base_url`` and ``model`` declare it."""
        if not (self.base_url and self.model):
            return dict(self.routes)
        legacy = EndpointSettings(base_url=self.base_url, model=self.model, api_key=self.api_key)
        return {DEFAULT_ROUTE: RouteSettings(endpoints=(legacy,)), **self.routes}

    @property
    def default_route_name(self) -> str | None:
        """The route a call takes when neither it nor its policy names one."""
        declared = self.all_routes
        if self.default_route is not None:
            return self.default_route
        return DEFAULT_ROUTE if DEFAULT_ROUTE in declared else next(iter(declared), None)
