"""The circuit breaker of one endpoint, shared by every process through the endpoint's row.

closed ──N consecutive failures──▶ open ──cooldown over, one caller claims the probe──▶ half_open
half_open ──probe succeeds──▶ closed;  half_open ──probe fails──▶ open (a new cooldown)

Claiming the probe is one conditional ``UPDATE`` (open and cooled down, or half-open with an expired probe), so
of all the processes that find the cooldown over exactly one gets it. Everyone else is told to wait
(:class:`~organism.errors.Deferred`), which costs no retry attempt. Any answer from the endpoint, a 4xx or a 429
included, proves it is up: only timeouts, connection errors, 408/5xx and malformed replies count as failures.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import and_, case, or_
from sqlalchemy.orm import Session

from organism.errors import Deferred
from organism.gateway.endpoint import Endpoints, EndpointState
from organism.gateway.models import BreakerState, Endpoint
from organism.gateway.settings import GatewaySettings

CLOSED, OPEN, HALF_OPEN = BreakerState.CLOSED.value, BreakerState.OPEN.value, BreakerState.HALF_OPEN.value
PROBE_MARGIN_S = 5.0  # a probe's claim outlives its call's timeouts by this much


def probe_ttl_s(config: GatewaySettings) -> float:
    """How long a half-open probe's claim lasts: longer than its call can take."""
    return config.connect_timeout_s + config.read_timeout_s + PROBE_MARGIN_S


class CircuitOpen(Deferred):
    """The endpoint's circuit is open: it failed repeatedly, and no call goes out until the cooldown ends."""


class Breaker:
    """Admits calls to an endpoint while its circuit allows, and turns outcomes into state changes.

    Args:
        failures: consecutive failures that open the circuit.
        cooldown_s: how long it stays open before a probe may go out.
        probe_ttl_s: how long a probe's claim lasts if its process dies (longer than any call).
        max_wait_s: the longest a caller is told to wait while a probe is out.
    """

    def __init__(self, endpoints: Endpoints, failures: int, cooldown_s: float, probe_ttl_s: float,
                 max_wait_s: float) -> None:
        self.endpoints = endpoints
        self.failures = failures
        self.cooldown_s = cooldown_s
        self.probe_ttl_s = probe_ttl_s
        self.max_wait_s = max_wait_s

    def blocked(self, state: EndpointState, now: float) -> Deferred | None:
        """None if a call may go on: the circuit is closed, or it may be the half-open probe (see :meth:`claim`).
        Else why not: :class:`CircuitOpen` for the rest of the cooldown, or a :class:`Deferred` while another
        probe is out."""
        where = self.endpoints.endpoint
        if state.breaker is BreakerState.OPEN and state.open_until is not None and state.open_until > now:
            wait_s = state.open_until - now
            return CircuitOpen(f"circuit open for {where} after {state.failures} consecutive failures; "
                               f"a probe may go in {wait_s:.1f}s", wait_s)
        if state.breaker is BreakerState.HALF_OPEN and state.probe_until is not None and state.probe_until > now:
            return Deferred(f"circuit half-open for {where}: another call is probing it",
                            min(state.probe_until - now, self.max_wait_s))
        return None

    def claim(self, s: Session, state: EndpointState, now: float) -> str | None:
        """None if the circuit is closed; else claim the one probe in ``s`` and return its id.

        Raises:
            Deferred: another process claimed the probe first (roll ``s`` back: the call does not go out).
        """
        if state.breaker is BreakerState.CLOSED:
            return None
        probe = uuid.uuid4().hex
        cooled = and_(Endpoint.breaker == OPEN, Endpoint.open_until <= now)
        orphaned = and_(Endpoint.breaker == HALF_OPEN, Endpoint.probe_until <= now)
        claimed = s.execute(self.endpoints.statement(or_(cooled, orphaned), breaker=HALF_OPEN, probe=probe,
                                                     probe_until=now + self.probe_ttl_s))
        if not claimed.rowcount:  # type: ignore[attr-defined]
            raise Deferred(f"circuit half-open for {self.endpoints.endpoint}: another call is probing it",
                           self.max_wait_s)
        return probe

    def success_values(self, probe: str | None) -> dict[str, Any]:
        """The endpoint answered: reset the failure count; the probe's answer closes the circuit."""
        values: dict[str, Any] = {"failures": case((Endpoint.breaker == CLOSED, 0), else_=Endpoint.failures)}
        if probe is not None:
            mine = Endpoint.probe == probe
            values = {"failures": case((mine, 0), else_=values["failures"]),
                      "breaker": case((mine, CLOSED), else_=Endpoint.breaker),
                      "open_until": case((mine, None), else_=Endpoint.open_until),
                      **self._drop_probe(probe)}
        return values

    def failure_values(self, probe: str | None, now: float) -> dict[str, Any]:
        """The endpoint failed: count it; the N-th consecutive failure, or the probe's, opens the circuit."""
        trips = and_(Endpoint.breaker == CLOSED, Endpoint.failures + 1 >= self.failures)
        if probe is not None:
            trips = or_(trips, Endpoint.probe == probe)
        values: dict[str, Any] = {
            "failures": Endpoint.failures + 1,
            "breaker": case((trips, OPEN), else_=Endpoint.breaker),
            "open_until": case((trips, now + self.cooldown_s), else_=Endpoint.open_until),
        }
        return values | (self._drop_probe(probe) if probe is not None else {})

    def abandon(self, probe: str, now: float) -> None:
        """The probe never reached the endpoint (no permit, say): let the next caller probe at once."""
        self.endpoints.update(Endpoint.probe == probe, breaker=OPEN, open_until=now, probe=None, probe_until=None)

    @staticmethod
    def _drop_probe(probe: str) -> dict[str, Any]:
        mine = Endpoint.probe == probe
        return {"probe": case((mine, None), else_=Endpoint.probe),
                "probe_until": case((mine, None), else_=Endpoint.probe_until)}
