"""The circuit breaker is shared: failures in some processes open it for all, and one probe closes it."""

from __future__ import annotations

import time
from typing import Any

import pytest

from organism.errors import Deferred, TransientError
from organism.gateway.client import Gateway
from tests.gateway.conftest import FakeServer, gateway_settings, in_processes
from tests.support.services import wait_for

pytestmark = pytest.mark.integration

FAILURES = 3
COOLDOWN_S = 1.0
BREAKER = {"breaker_failures": FAILURES, "breaker_cooldown_s": COOLDOWN_S, "max_concurrency": 10}


def _call(index: int, store_url: str, server_url: str, start_at: float) -> str:
    """One call at ``start_at`` (so the processes call together); the outcome's kind."""
    gateway = Gateway(gateway_settings(store_url, server_url, **BREAKER))
    time.sleep(max(0.0, start_at - time.time()))
    try:
        gateway.chat([{"role": "user", "content": f"process {index}"}])
    except Deferred as error:
        return f"deferred: {error}"
    except TransientError as error:
        return f"failed: {error}"
    return "answered"


def _together(count: int, store_url: str, server: FakeServer) -> list[Any]:
    return in_processes(count, _call, store_url, server.url, time.time() + 0.5)


def test_failures_in_some_processes_open_the_circuit_for_all_and_one_probe_closes_it(
        store_url: str, server: FakeServer) -> None:
    server.control(script=["500"] * FAILURES)

    assert [o.split(":")[0] for o in _together(FAILURES, store_url, server)] == ["failed"] * FAILURES
    opened = time.time()

    refused = _together(4, store_url, server)
    assert all(o.startswith("deferred: circuit open") for o in refused), refused
    assert server.stats()["requests"] == FAILURES, "a call reached the server while the circuit was open"

    # After the cooldown exactly one probe goes out; it fails, and the circuit opens again.
    server.control(script=["500"], latency_ms=700)  # a slow probe: the others arrive while it is out
    wait_for(lambda: time.time() > opened + COOLDOWN_S, 5, "the cooldown")
    probing = _together(4, store_url, server)
    assert sorted(o.split(":")[0] for o in probing) == ["deferred"] * 3 + ["failed"], probing
    assert server.stats()["requests"] == FAILURES + 1
    reopened = time.time()
    assert all(o.startswith("deferred: circuit open") for o in _together(2, store_url, server))

    # The next probe succeeds and closes the circuit for everyone.
    wait_for(lambda: time.time() > reopened + COOLDOWN_S, 5, "the second cooldown")
    probing = _together(4, store_url, server)
    assert sorted(o.split(":")[0] for o in probing) == ["answered"] + ["deferred"] * 3, probing
    assert all("another call is probing" in o for o in probing if o.startswith("deferred"))
    server.control(latency_ms=0)
    assert _together(4, store_url, server) == ["answered"] * 4
    assert server.stats()["requests"] == FAILURES + 2 + 4
