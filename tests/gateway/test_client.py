"""The client over requests: failure classes, timeouts, no retries of its own, and a key that never shows."""

from __future__ import annotations

import logging
import socket
import time

import pytest

from organism.errors import PermanentError, TransientError
from organism.gateway.client import Gateway, ModelNotConfigured
from organism.gateway.provider import EndpointFailure, Rejected, retry_after_s
from organism.settings import SettingsError, load
from tests.gateway.conftest import API_KEY, FakeServer, gateway_settings, only_endpoint

pytestmark = pytest.mark.integration

HELLO = [{"role": "user", "content": "hello"}]


@pytest.fixture
def gateway(store_url: str, server: FakeServer) -> Gateway:
    return Gateway(gateway_settings(store_url, server.url, read_timeout_s=0.5))


def test_an_answer_carries_the_servers_usage_and_the_latency(gateway: Gateway, server: FakeServer) -> None:
    result = gateway.chat(HELLO)

    stats = server.stats()
    assert result.content == "echo: hello" and result.model == "fake-model" and not result.replayed
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (
        stats["prompt_tokens"], stats["completion_tokens"])
    assert 0 < result.latency_s < 1


@pytest.mark.parametrize(("fault", "kind", "message"), [
    ("500", EndpointFailure, "HTTP 500 Internal Server Error"),
    ("malformed", EndpointFailure, "malformed chat completion"),
    ("timeout", EndpointFailure, "no reply within 0.5s"),
    ("echo_auth", Rejected, "HTTP 400 Bad Request"),
])
def test_each_failure_is_sorted_into_its_class_after_exactly_one_request(
        gateway: Gateway, server: FakeServer, fault: str, kind: type[Exception], message: str,
        caplog: pytest.LogCaptureFixture) -> None:
    server.control(script=[fault])
    caplog.set_level(logging.DEBUG)
    began = time.monotonic()

    with pytest.raises(kind, match=message) as raised:
        gateway.chat(HELLO)

    assert time.monotonic() - began < 2
    assert server.stats()["requests"] == 1, "the client retried on its own"
    assert isinstance(raised.value, TransientError if kind is EndpointFailure else PermanentError)
    assert API_KEY not in str(raised.value) + repr(raised.value) + caplog.text


def test_a_server_that_echoes_the_key_gets_it_back_masked(gateway: Gateway, server: FakeServer) -> None:
    server.control(script=["echo_auth"])

    with pytest.raises(Rejected) as raised:
        gateway.chat(HELLO)

    assert "Bearer ***" in str(raised.value) and API_KEY not in str(raised.value)


def test_a_wrong_key_is_a_permanent_error(store_url: str, server: FakeServer) -> None:
    gateway = Gateway(gateway_settings(store_url, server.url, api_key="sk-wrong"))

    with pytest.raises(Rejected, match="HTTP 401 Unauthorized"):
        gateway.chat(HELLO)


def test_a_refused_connection_is_transient(store_url: str) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    gateway = Gateway(gateway_settings(store_url, f"http://127.0.0.1:{closed_port}/v1"))

    with pytest.raises(EndpointFailure, match="ConnectionError"):
        gateway.chat(HELLO)


def test_the_key_is_secret_in_settings_and_the_gateway() -> None:
    settings = load(gateway={"base_url": "http://127.0.0.1:1/v1", "model": "m", "api_key": API_KEY})

    assert API_KEY not in repr(settings) + str(settings.model_dump())
    assert API_KEY not in repr(only_endpoint(Gateway(settings)).provider.__dict__)


def test_nested_environment_variables_configure_the_gateway(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORGANISM_GATEWAY__BASE_URL", "http://127.0.0.1:8900/v1/")
    monkeypatch.setenv("ORGANISM_GATEWAY__MAX_CONCURRENCY", "5")

    gateway = load().gateway

    assert (gateway.base_url, gateway.max_concurrency, gateway.configured) == ("http://127.0.0.1:8900/v1", 5, False)


def test_timeouts_must_fit_below_the_soft_time_limit() -> None:
    settings = load(task_soft_time_limit_s=60, task_time_limit_s=90,
                    gateway={"base_url": "http://127.0.0.1:1/v1", "read_timeout_s": 58})

    with pytest.raises(SettingsError, match=r"must stay below the shortest soft time limit, organ perception's \(60s"):
        Gateway(settings)


def test_timeouts_must_fit_below_every_organs_own_soft_time_limit() -> None:
    settings = load(workers={"judgment": {"soft_time_limit_s": 20, "time_limit_s": 30}},
                    gateway={"base_url": "http://127.0.0.1:1/v1", "read_timeout_s": 25})

    with pytest.raises(SettingsError, match=r"organ judgment's \(20s: ORGANISM_WORKERS\[judgment\]"):
        Gateway(settings)


def test_no_base_url_means_no_gateway() -> None:
    with pytest.raises(ModelNotConfigured, match="set ORGANISM_GATEWAY__BASE_URL"):
        Gateway(load())


@pytest.mark.parametrize(("header", "expected_s"), [
    (None, 5.0), ("2", 2.0), ("0.5", 0.5), ("9999", 300.0), ("soon", 5.0), ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
])
def test_retry_after_is_read_as_seconds_or_a_date_and_capped(header: str | None, expected_s: float) -> None:
    assert retry_after_s(header, default_s=5.0, max_s=300.0) == expected_s
