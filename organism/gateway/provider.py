"""One OpenAI-compatible chat-completions endpoint over ``requests``, every outcome sorted into a failure class.

The session makes no retries of its own (our retries decide), never follows redirects, and sends the API key
through an auth object rather than a header, so ``~/.netrc`` cannot replace it and no repr shows it. Every
message this module builds passes through :meth:`Provider.scrub`, so the key appears in no log, result,
exception or ledger row even if a server echoes it back.
"""

from __future__ import annotations

import email.utils
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import requests
from pydantic import SecretStr
from requests.adapters import HTTPAdapter

from organism.errors import PermanentError, TransientError
from organism.gateway.settings import endpoint_name

SNIPPET_CHARS = 300
TRANSIENT_STATUSES = frozenset({408, 425, 429})


@dataclass(frozen=True)
class Usage:
    """Tokens as the provider counted them (the response's ``usage``)."""

    prompt_tokens: int
    completion_tokens: int

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class ChatResult:
    """A model's answer. ``replayed`` marks an answer taken from the ledger instead of paid for again."""

    content: str
    usage: Usage
    model: str
    latency_s: float
    replayed: bool = False


class RateLimited(TransientError):
    """HTTP 429: the provider asks every caller to stay away for ``retry_after_s``; not an outage."""


class EndpointFailure(TransientError):
    """The endpoint failed: timeout, refused connection, HTTP 408/5xx, or a reply that is not a chat completion.

    These count against the endpoint's circuit breaker.
    """


class Rejected(PermanentError):
    """The endpoint refused the call itself (HTTP 400/401/403/404 and other 4xx): retrying cannot help."""


class _Bearer(requests.auth.AuthBase):
    def __init__(self, key: SecretStr) -> None:
        self._key = key

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._key.get_secret_value()}"
        return request

    def __repr__(self) -> str:
        return "_Bearer(***)"


def retry_after_s(value: str | None, default_s: float, max_s: float) -> float:
    """Seconds a ``Retry-After`` header asks for (delta-seconds or an HTTP date), capped at ``max_s``."""
    if not value:
        return default_s
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return default_s
        seconds = (when - datetime.now(UTC)).total_seconds()
    return min(max(seconds, 0.0), max_s)


class Provider:
    """Posts chat completions to one endpoint and turns the outcome into a :class:`ChatResult` or an error.

    Its messages start with ``name`` (default: the base URL without credentials).
    """

    def __init__(self, base_url: str, api_key: SecretStr | None, connect_timeout_s: float, read_timeout_s: float,
                 default_pause_s: float, max_pause_s: float, name: str | None = None) -> None:
        self.url = f"{base_url.rstrip('/')}/chat/completions"
        self.endpoint = name or endpoint_name(base_url)
        self._key = api_key
        self._timeouts = (connect_timeout_s, read_timeout_s)
        self._pause = (default_pause_s, max_pause_s)
        self._session = requests.Session()
        self._session.auth = _Bearer(api_key) if api_key else None
        no_retries = HTTPAdapter(max_retries=0)  # urllib3 Retry(0, read=False): one try, our retries decide
        self._session.mount("http://", no_retries)
        self._session.mount("https://", no_retries)

    def scrub(self, text: str) -> str:
        """``text`` with the API key replaced by ``***``."""
        secret = self._key.get_secret_value() if self._key else ""
        return text.replace(secret, "***") if secret else text

    def complete(self, body: dict[str, Any]) -> ChatResult:
        """POST one chat completion.

        Raises:
            RateLimited: HTTP 429, with the wait the server asked for.
            EndpointFailure: timeout, connection error, HTTP 408/425/5xx, or a malformed reply.
            Rejected: any other 3xx/4xx.
        """
        began = time.perf_counter()
        try:
            response = self._session.post(self.url, json=body, timeout=self._timeouts, allow_redirects=False)
        except requests.Timeout:
            raise EndpointFailure(f"{self.endpoint}: no reply within {self._timeouts[1]:g}s "
                              f"(connect limit {self._timeouts[0]:g}s)") from None
        except requests.RequestException as error:
            raise EndpointFailure(self.scrub(f"{self.endpoint}: {type(error).__name__}: {error}")) from None
        latency_s = time.perf_counter() - began
        status = response.status_code
        if status == 429:
            wait_s = retry_after_s(response.headers.get("Retry-After"), *self._pause)
            raise RateLimited(f"{self.endpoint}: HTTP 429, rate limited for {wait_s:g}s", retry_after_s=wait_s)
        if status in TRANSIENT_STATUSES or status >= 500:
            header = response.headers.get("Retry-After")
            wait = retry_after_s(header, *self._pause) if header else None
            raise EndpointFailure(self._failure(response), retry_after_s=wait)
        if status >= 300:
            raise Rejected(self._failure(response))
        return self._parse(response, latency_s)

    def _failure(self, response: requests.Response) -> str:
        snippet = " ".join(response.text[:SNIPPET_CHARS].split())
        return self.scrub(f"{self.endpoint}: HTTP {response.status_code} {response.reason}: {snippet}")

    def _parse(self, response: requests.Response, latency_s: float) -> ChatResult:
        try:
            data = response.json()
            content = data["choices"][0]["message"].get("content") or ""
            usage = data.get("usage") or {}
            tokens = Usage(int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0)))
            model = str(data.get("model") or "")
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            snippet = " ".join(response.text[:SNIPPET_CHARS].split())
            raise EndpointFailure(self.scrub(f"{self.endpoint}: malformed chat completion: {snippet!r}")) from None
        if not isinstance(content, str):
            raise EndpointFailure(f"{self.endpoint}: malformed chat completion: content is {type(content).__name__}")
        return ChatResult(content=content, usage=tokens, model=model, latency_s=latency_s)
