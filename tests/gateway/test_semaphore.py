"""The cluster-wide semaphore: at most N calls in flight across processes, every call served, dead holders' leases."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time

import pytest
from celery.result import ResultSet

from organism.gateway.client import Gateway
from organism.gateway.semaphore import Lease, Semaphore
from organism.store import session
from organism.store.db import forget_engines
from tests.gateway.conftest import FakeServer, Workers, gateway_settings, only_endpoint
from tests.support.services import wait_for

pytestmark = pytest.mark.integration

BURST = 100
BURST_LATENCY_MS = 500
LEASE_TTL_S = 1.0


def test_a_burst_of_100_calls_keeps_at_most_3_in_flight_and_serves_every_call(workers: Workers,
                                                                             server: FakeServer) -> None:
    """How busy the permits stay is a timing, measured by ``bench.gateway``; this asserts what cannot flake."""
    server.control(latency_ms=BURST_LATENCY_MS)

    results = ResultSet([workers.send("test.gateway.ask", f"call {i}") for i in range(BURST)], app=workers.app)
    answers = results.get(timeout=120, interval=0.05)

    stats = server.stats()
    assert sorted(a["content"] for a in answers) == sorted(f"echo: call {i}" for i in range(BURST))
    assert stats["outcomes"] == {"ok": BURST}
    assert stats["peak"] <= 3, "more calls were in flight than the semaphore's 3 permits"


def _hold_a_permit(settings_args: tuple[str, str]) -> None:
    forget_engines()
    Gateway(gateway_settings(*settings_args, max_concurrency=1, lease_ttl_s=LEASE_TTL_S)).chat(
        [{"role": "user", "content": "a long call"}])


def test_a_sigkilled_holders_permit_returns_within_its_lease(store_url: str, server: FakeServer) -> None:
    server.control(latency_ms=30_000)
    holder = multiprocessing.get_context("fork").Process(target=_hold_a_permit, args=((store_url, server.url),))
    holder.start()
    semaphore = only_endpoint(Gateway(gateway_settings(store_url, server.url, max_concurrency=1,
                                                       lease_ttl_s=LEASE_TTL_S))).semaphore
    try:
        wait_for(lambda: server.stats()["current"] == 1, 20, "the holder's call to reach the server")
        renewed_until = time.monotonic() + 2 * LEASE_TTL_S
        while time.monotonic() < renewed_until:  # a living holder keeps renewing its lease
            assert _take(semaphore) is None
            time.sleep(0.1)

        os.kill(holder.pid, signal.SIGKILL)
        killed = time.monotonic()
        holder.join(5)
        taken = wait_for(lambda: _take(semaphore), 10 * LEASE_TTL_S, "the dead holder's permit")
        returned_s = time.monotonic() - killed
    finally:
        if holder.is_alive():
            holder.kill()
        server.reset()  # wake the server's sleeping request

    with session(store_url) as s:
        semaphore.release(s, taken)
    print(f"the permit came back {returned_s:.2f}s after SIGKILL (lease {LEASE_TTL_S}s)")
    assert returned_s <= LEASE_TTL_S + 0.3


def _take(semaphore: Semaphore) -> Lease | None:
    with session(semaphore.url) as s:
        taken = semaphore.acquire(s)
    return taken if isinstance(taken, Lease) else None
