"""A 429 pauses the endpoint for every process for its Retry-After; per-minute limits are shared too."""

from __future__ import annotations

import time

import pytest

from organism.errors import Deferred
from organism.gateway.client import Gateway
from organism.gateway.provider import RateLimited
from organism.store import session
from tests.gateway.conftest import FakeServer, gateway_settings, in_processes, only_endpoint
from tests.support.services import wait_for

pytestmark = pytest.mark.integration

RETRY_AFTER_S = 1.5
ARRIVAL_SLACK_S = 0.05  # the 429's arrival is stamped before the server answers, the pause starts after


def _until_answered(index: int, store_url: str, server_url: str) -> list[str]:
    """Call until answered, waiting out every Deferred as a retry would; the deferrals seen."""
    gateway = Gateway(gateway_settings(store_url, server_url, max_concurrency=10))
    seen = []
    while True:
        try:
            gateway.chat([{"role": "user", "content": f"process {index}"}])
            return seen
        except Deferred as waiting:
            seen.append(str(waiting))
            time.sleep(waiting.wait_s)


def test_a_429_pauses_every_process_and_no_call_reaches_the_server_meanwhile(store_url: str,
                                                                            server: FakeServer) -> None:
    server.control(script=["429"], retry_after_s=RETRY_AFTER_S)
    gateway = Gateway(gateway_settings(store_url, server.url))

    with pytest.raises(RateLimited) as limited:
        gateway.chat([{"role": "user", "content": "first"}])
    assert limited.value.retry_after_s == RETRY_AFTER_S
    deferrals = in_processes(4, _until_answered, store_url, server.url)

    assert all(seen and "HTTP 429" in seen[0] for seen in deferrals), "a process did not pause"
    arrivals = server.stats()["arrivals"]
    assert len(arrivals) == 1 + 4
    assert min(arrivals[1:]) >= arrivals[0] + RETRY_AFTER_S - ARRIVAL_SLACK_S, "a call arrived during the pause"
    with session(store_url) as s:
        assert only_endpoint(gateway).endpoints.read(s).breaker == "closed", "a 429 is not an outage"


def test_the_requests_per_minute_limit_is_shared_by_processes(store_url: str, server: FakeServer) -> None:
    wait_for(lambda: time.time() % 60 < 55, 6, "a minute with room for the whole test")
    outcomes = in_processes(5, _once, store_url, server.url)

    assert sorted(o.split(":")[0] for o in outcomes) == ["answered"] * 3 + ["deferred"] * 2
    assert all("per-minute limit reached (3 requests per minute)" in o for o in outcomes if o != "answered")
    assert server.stats()["requests"] == 3


def _once(index: int, store_url: str, server_url: str) -> str:
    gateway = Gateway(gateway_settings(store_url, server_url, max_concurrency=10, requests_per_minute=3))
    try:
        gateway.chat([{"role": "user", "content": f"process {index}"}])
    except Deferred as waiting:
        assert 0 < waiting.wait_s <= 61
        return f"deferred: {waiting}"
    return "answered"

