"""Routes of several endpoints against real fake servers: weighted shares across processes, least in flight from the
cluster's permits, failover within a call, a 429 pausing one endpoint and not the route, every endpoint down."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from organism.errors import Deferred
from organism.gateway.breaker import CircuitOpen
from organism.gateway.client import Gateway
from organism.gateway.ledger import ledger_totals
from organism.gateway.provider import EndpointFailure
from organism.gateway.semaphore import Lease
from organism.observability.gateway_state import endpoint_views
from organism.store import session
from tests.gateway.conftest import API_KEY, FakeServer, endpoint, in_processes, routed_settings

pytestmark = pytest.mark.integration

HELLO = [{"role": "user", "content": "hello"}]
CALLS = 300
PROCESSES = 3


def _calls(index: int, store_url: str, routes: dict[str, Any], count: int) -> int:
    gateway = Gateway(routed_settings(store_url, routes))
    for n in range(count):
        gateway.chat([{"role": "user", "content": f"process {index} call {n}"}])
    return count


def test_weighted_shares_match_the_weights_over_300_calls_from_three_processes(
        store_url: str, fleet: list[FakeServer]) -> None:
    weights = {"a": 3, "b": 2, "c": 1}
    routes = {"chat-default": [endpoint(name, server, weight=weights[name], max_concurrency=10)
                               for name, server in zip(weights, fleet, strict=True)]}

    in_processes(PROCESSES, _calls, store_url, routes, CALLS // PROCESSES)

    served = {name: server.stats()["requests"] for name, server in zip(weights, fleet, strict=True)}
    assert sum(served.values()) == CALLS
    for name, weight in weights.items():  # one shared counter: every cycle of 6 calls serves each its weight
        assert served[name] == pytest.approx(CALLS * weight / 6, abs=3), served
    assert {t.key: t.calls for t in ledger_totals(store_url, by="endpoint")} == served
    assert [(t.key, t.calls) for t in ledger_totals(store_url, by="route")] == [("chat-default", CALLS)]


def test_least_in_flight_takes_the_endpoint_with_the_fewest_calls_in_flight_across_the_cluster(
        store_url: str, fleet: list[FakeServer]) -> None:
    a, b, _ = fleet
    gateway = Gateway(routed_settings(store_url, {"chat-default": {"strategy": "least_in_flight", "endpoints": [
        endpoint("a", a), endpoint("b", b)]}}))
    targets = gateway.routes.targets

    def hold(name: str, count: int) -> list[Lease]:  # calls in flight elsewhere in the cluster
        held = []
        for _ in range(count):
            with session(store_url) as s:
                lease = targets[name].semaphore.acquire(s)
            assert isinstance(lease, Lease)
            held.append(lease)
        return held

    hold("a", 2)
    hold("b", 1)
    gateway.chat(HELLO)
    assert (a.stats()["requests"], b.stats()["requests"]) == (0, 1)
    hold("b", 2)  # b: 3 of 3 in flight, a: 2 of 3
    gateway.chat(HELLO)
    assert (a.stats()["requests"], b.stats()["requests"]) == (1, 1)


def test_a_failing_endpoint_hands_each_call_to_the_next_until_its_circuit_opens_and_it_is_skipped(
        store_url: str, fleet: list[FakeServer]) -> None:
    down, up, _ = fleet
    down.control(fail_rate=1.0)
    gateway = Gateway(routed_settings(store_url, {"chat-default": {"strategy": "failover", "endpoints": [
        endpoint("down", down), endpoint("up", up)]}}, breaker_failures=3))

    answers = [gateway.chat([{"role": "user", "content": f"call {n}"}]) for n in range(6)]

    assert [answer.content for answer in answers] == [f"echo: call {n}" for n in range(6)]
    assert down.stats()["outcomes"] == {"500": 3}, "the open circuit should have spared the rest"
    assert up.stats()["outcomes"] == {"ok": 6}
    assert {t.key: t.calls for t in ledger_totals(store_url, by="endpoint")} == {"up": 6}
    views = {view.endpoint: view for view in endpoint_views(store_url, gateway.config, time.time())}
    assert (views["down"].breaker, views["down"].failures, views["up"].breaker) == ("open", 3, "closed")
    assert views["down"].last_error is not None and views["down"].last_error.startswith("down: HTTP 500")
    assert views["down"].routes == ("chat-default",) and views["down"].base_url == down.url


def test_a_429_pauses_that_endpoint_not_the_route(store_url: str, fleet: list[FakeServer]) -> None:
    limited, up, _ = fleet
    limited.control(rate_limited_rate=1.0, retry_after_s=30)
    gateway = Gateway(routed_settings(store_url, {"chat-default": [endpoint("limited", limited),
                                                                   endpoint("up", up)]}))

    for n in range(6):
        gateway.chat([{"role": "user", "content": f"call {n}"}])

    assert limited.stats()["outcomes"] == {"429": 1}, "a paused endpoint was called"
    assert up.stats()["outcomes"] == {"ok": 6}
    views = {view.endpoint: view for view in endpoint_views(store_url, gateway.config, time.time())}
    paused = views["limited"]
    assert paused.breaker == "closed" and paused.failures == 0, "a 429 is not an outage"
    assert paused.paused_for_s is not None and 25 < paused.paused_for_s <= 30
    assert paused.last_error == "limited: HTTP 429, rate limited for 30s"


def test_every_endpoint_failing_gives_up_naming_each_and_then_their_open_circuits(
        store_url: str, fleet: list[FakeServer]) -> None:
    for one in fleet[:2]:
        one.control(fail_rate=1.0)
    gateway = Gateway(routed_settings(store_url, {"chat-default": [endpoint("a", fleet[0]), endpoint("b", fleet[1])]},
                                      breaker_failures=1))

    with pytest.raises(EndpointFailure) as failed:
        gateway.chat(HELLO)
    assert str(failed.value).startswith("route chat-default: no endpoint answered or is available: ")
    assert "a: HTTP 500 Internal Server Error" in str(failed.value)
    assert "b: HTTP 500 Internal Server Error" in str(failed.value)

    with pytest.raises(CircuitOpen) as refused:
        gateway.chat(HELLO)
    assert str(refused.value).startswith("route chat-default: no endpoint answered or is available: ")
    assert "circuit open for a after 1 consecutive failures" in str(refused.value)
    assert "circuit open for b after 1 consecutive failures" in str(refused.value)
    assert [one.stats()["requests"] for one in fleet] == [1, 1, 0]


def test_one_endpoint_paused_and_the_other_open_is_a_wait_for_the_pause(store_url: str,
                                                                         fleet: list[FakeServer]) -> None:
    fleet[0].control(rate_limited_rate=1.0, retry_after_s=20)
    fleet[1].control(fail_rate=1.0)
    gateway = Gateway(routed_settings(store_url, {"chat-default": [endpoint("a", fleet[0]), endpoint("b", fleet[1])]},
                                      breaker_failures=1))
    with pytest.raises(EndpointFailure):
        gateway.chat(HELLO)

    with pytest.raises(Deferred) as waiting:
        gateway.chat(HELLO)

    assert not isinstance(waiting.value, CircuitOpen), "a paused endpoint comes back: the route is not down"
    assert 15 < waiting.value.wait_s <= 20
    assert "a asked every caller to wait (HTTP 429)" in str(waiting.value)
    assert "circuit open for b" in str(waiting.value)


def test_two_endpoints_on_one_url_with_different_models_keep_their_own_state_and_key_file(
        store_url: str, fleet: list[FakeServer], tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text(API_KEY + "\n")
    one = fleet[0]
    small = endpoint("small", one, api_key=None, api_key_file=str(key_file))
    large = {**endpoint("large", one), "model": "fake-model-large"}
    gateway = Gateway(routed_settings(store_url, {"chat-default": {"strategy": "failover",
                                                                   "endpoints": [small, large]}}))
    gateway.chat(HELLO)
    targets = gateway.routes.targets
    targets["small"].endpoints.update(breaker="open", failures=5, open_until=time.time() + 60)

    answer = gateway.chat(HELLO)

    assert answer.model == "fake-model-large"
    assert one.stats()["models"] == {"fake-model": 1, "fake-model-large": 1}
    assert {t.key: t.calls for t in ledger_totals(store_url, by="model")} == {"fake-model": 1, "fake-model-large": 1}
    assert {t.key for t in ledger_totals(store_url, by="endpoint")} == {"small", "large"}
