"""Provider-side limits shared by every process: the pause a 429 imposes, and optional per-minute windows.

A 429 is rate limiting, not an outage: instead of opening the circuit it pauses the endpoint for the server's
``Retry-After``, and every process reads the pause before calling. Requests and tokens per minute are counted
in fixed one-minute windows on the endpoint's row; a request claims its place with one conditional ``UPDATE``
(tokens are known only afterwards, so the token limit stops the next call, not the one that crosses it).
"""

from __future__ import annotations

import math
import random
from typing import Any

from sqlalchemy import ColumnElement, and_, case, or_

from organism.errors import Deferred
from organism.gateway.endpoint import Endpoints, EndpointState
from organism.gateway.models import Endpoint

WINDOW_S = 60.0
WINDOW_JITTER_S = 1.0  # spread the callers a full window sent away, so they do not all return at once


class RateLimits:
    """The 429 pause and the per-minute limits of one endpoint (``None`` means no limit)."""

    def __init__(self, endpoints: Endpoints, requests_per_minute: int | None, tokens_per_minute: int | None) -> None:
        self.endpoints = endpoints
        self.requests_per_minute = requests_per_minute
        self.tokens_per_minute = tokens_per_minute

    def blocked(self, state: EndpointState, now: float) -> Deferred | None:
        """A :class:`Deferred` for the rest of a 429's pause, or until the next window if this one is full as
        ``state`` shows it (:meth:`claim` decides); None if a call may go on."""
        if state.paused_until is not None and state.paused_until > now:
            wait_s = state.paused_until - now
            return Deferred(f"{self.endpoints.endpoint} asked every caller to wait (HTTP 429); "
                            f"{wait_s:.1f}s left", wait_s)
        window = math.floor(now / WINDOW_S) * WINDOW_S
        if state.window_start == window and self._full(state.window_requests, state.window_tokens):
            return self._wait(window, now)
        return None

    @staticmethod
    def pause_values(wait_s: float, now: float) -> dict[str, Any]:
        """Pause the endpoint until ``now + wait_s``, never shortening a longer pause already in force."""
        until = now + wait_s
        later = or_(Endpoint.paused_until.is_(None), Endpoint.paused_until < until)
        return {"paused_until": case((later, until), else_=Endpoint.paused_until)}

    def claim(self, now: float) -> float | None:
        """Count one request in the current window; its start, or None when no per-minute limit is set.

        Raises:
            Deferred: the window is full; wait for the next one.
        """
        if self.requests_per_minute is None and self.tokens_per_minute is None:
            return None
        window = math.floor(now / WINDOW_S) * WINDOW_S
        room: list[ColumnElement[bool]] = []
        if self.requests_per_minute is not None:
            room.append(Endpoint.window_requests < self.requests_per_minute)
        if self.tokens_per_minute is not None:
            room.append(Endpoint.window_tokens < self.tokens_per_minute)
        new = Endpoint.window_start < window
        if self.endpoints.update(or_(new, and_(*room)),
                                 window_start=case((new, window), else_=Endpoint.window_start),
                                 window_requests=case((new, 1), else_=Endpoint.window_requests + 1),
                                 window_tokens=case((new, 0), else_=Endpoint.window_tokens)):
            return window
        raise self._wait(window, now)

    @staticmethod
    def tokens_values(window: float | None, tokens: int) -> dict[str, Any]:
        """Add a finished call's tokens to the window it was counted in (if that window is still current)."""
        if window is None:
            return {}
        return {"window_tokens": Endpoint.window_tokens + case((Endpoint.window_start == window, tokens), else_=0)}

    def _full(self, requests: int, tokens: int) -> bool:
        return ((self.requests_per_minute is not None and requests >= self.requests_per_minute)
                or (self.tokens_per_minute is not None and tokens >= self.tokens_per_minute))

    def _wait(self, window: float, now: float) -> Deferred:
        wait_s = window + WINDOW_S - now + random.uniform(0, WINDOW_JITTER_S)
        return Deferred(f"{self.endpoints.endpoint}: per-minute limit reached ({self._limits()}); "
                        f"next window in {wait_s:.1f}s", wait_s)

    def _limits(self) -> str:
        parts = []
        if self.requests_per_minute is not None:
            parts.append(f"{self.requests_per_minute} requests")
        if self.tokens_per_minute is not None:
            parts.append(f"{self.tokens_per_minute} tokens")
        return " or ".join(parts) + " per minute"
