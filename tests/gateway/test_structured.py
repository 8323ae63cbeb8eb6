"""Structured answers (schema, one repair, then a permanent error) and the skills that use them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel

from organism.errors import PermanentError
from organism.gateway.client import Gateway, gateway
from organism.gateway.provider import EndpointFailure
from organism.gateway.structured import NO_MODEL, complete_json
from organism.settings import get_settings
from tasks.judgment import opportunity_evaluator, risk_evaluator
from tasks.relationship import cross_quadrant_synthesis
from tests.gateway.conftest import API_KEY, FakeServer, gateway_settings

pytestmark = pytest.mark.integration


class Verdict(BaseModel):
    label: str
    confidence: float


def _finding(theme: str, score: float, posts: list[str], keywords: list[str]) -> dict[str, Any]:
    return {"theme": theme, "score": score, "mentions": len(posts), "examples": posts, "keywords": keywords}


# Two insights: battery drain (all four quadrants) and sync conflicts (pain and trend).
SCANS = [
    {"quadrant": "q1", "items_scanned": 10, "findings": [
        _finding("battery drain", 5.0, ["p1", "p2", "p3"], ["battery drain", "firmware update"]),
        _finding("sync conflict", 3.0, ["p7", "p8"], ["sync conflict", "overwrote"])]},
    {"quadrant": "q2", "items_scanned": 10, "findings": [_finding("anger", 4.0, ["p1", "p2"], ["battery", "drain"])]},
    {"quadrant": "q3", "items_scanned": 10, "findings": [
        _finding("battery drain", 3.5, ["p2", "p3"], ["battery drain"]),
        _finding("sync conflict", 2.0, ["p7"], ["sync conflict"])]},
    {"quadrant": "q4", "items_scanned": 10, "findings": [
        _finding("night shift / battery", 2.0, ["p3"], ["night shift", "battery"])]},
]


def test_a_valid_reply_is_returned_validated(store_url: str, server: FakeServer) -> None:
    gateway = Gateway(gateway_settings(store_url, server.url))

    reply = complete_json("synthesis", {"insights": []}, Verdict, client=gateway)

    assert isinstance(reply.value, Verdict) and not reply.repaired
    assert reply.engine == "model:fake-model"


def test_an_invalid_reply_gets_one_repair(store_url: str, server: FakeServer) -> None:
    server.control(replies=['{"label": "ok"}', '```json\n{"label": "ok", "confidence": 0.9}\n```'])

    reply = complete_json("synthesis", {"insights": []}, Verdict, client=Gateway(gateway_settings(store_url,
                                                                                                  server.url)))

    assert reply.value == Verdict(label="ok", confidence=0.9) and reply.repaired
    assert server.stats()["requests"] == 2


def test_an_invalid_reply_after_the_repair_is_a_permanent_error(store_url: str, server: FakeServer) -> None:
    server.control(replies=["not JSON at all", '{"label": 3}'])

    with pytest.raises(PermanentError, match="not a valid Verdict after one repair: label: Input should be"):
        complete_json("synthesis", {"insights": []}, Verdict, client=Gateway(gateway_settings(store_url,
                                                                                             server.url)))
    assert server.stats()["requests"] == 2


def test_a_missing_template_is_a_permanent_error(store_url: str, server: FakeServer) -> None:
    with pytest.raises(PermanentError, match=r"prompt template config/prompts/nonesuch\.toml"):
        complete_json("nonesuch", {}, Verdict, client=Gateway(gateway_settings(store_url, server.url)))
    assert server.stats()["requests"] == 0


@pytest.fixture
def model_env(store_url: str, server: FakeServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeServer]:
    """The process-wide settings pointed at the fake model (and the store), as a worker would have them."""
    for name, value in {"ORGANISM_DATABASE_URL": store_url, "ORGANISM_GATEWAY__BASE_URL": server.url,
                        "ORGANISM_GATEWAY__MODEL": "fake-model", "ORGANISM_GATEWAY__API_KEY": API_KEY}.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    yield server
    get_settings.cache_clear()


def test_with_a_model_the_synthesis_names_the_insights_and_says_so(model_env: FakeServer) -> None:
    model_env.control(replies=[json.dumps({"insights": [
        {"id": "i1", "title": "Firmware update drains batteries on night shifts", "summary": "Angry, growing."},
        {"id": "i9", "title": "An insight that does not exist", "summary": "Ignored."}]})])

    result = cross_quadrant_synthesis(SCANS)

    assert result["engine"] == "model:fake-model"
    titles = {i["id"]: i["title"] for i in result["insights"]}
    assert titles["i1"] == "Firmware update drains batteries on night shifts"
    assert titles["i2"].startswith("'sync conflict'"), "an insight the model left out keeps its own title"
    assert [i["signals"] for i in result["insights"]] == [i["signals"] for i in _deterministic()["insights"]]


def test_with_a_model_both_evaluations_take_its_scores_and_rationales(model_env: FakeServer) -> None:
    synthesis = _deterministic()
    model_env.control(replies=[json.dumps({"scores": [{"id": "i2", "score": 90, "rationale": "Data loss."}]}),
                               json.dumps({"scores": [{"id": "i1", "score": 70, "rationale": "Public anger."},
                                                      {"id": "i2", "score": 95, "rationale": "Data loss."}]})])

    opportunity = opportunity_evaluator(synthesis)
    risk = risk_evaluator(synthesis)

    assert (opportunity["engine"], risk["engine"]) == ("model:fake-model", "model:fake-model")
    assert [(r["insight"], r["score"]) for r in opportunity["ranking"]] == [("i1", 100.0), ("i2", 90.0)]
    assert opportunity["ranking"][0]["rationale"].startswith("not scored by the model; deterministic: 100 x")
    assert [(r["insight"], r["score"], r["rationale"]) for r in risk["ranking"]] == [
        ("i2", 95.0, "Data loss."), ("i1", 70.0, "Public anger.")]


def test_past_the_budget_the_skills_go_on_without_the_model_degraded(
        model_env: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORGANISM_GATEWAY__DAILY_BUDGET_USD", "0")
    get_settings.cache_clear()

    result = cross_quadrant_synthesis(SCANS)

    assert result["engine"].startswith("deterministic (model unavailable: daily model budget reached")
    assert [d["dependency"] for d in result["degraded"]] == ["model"]
    assert result["degraded"][0]["reason"].startswith("daily model budget reached: 0.0000 of 0.0000 USD")
    assert result["insights"] == _deterministic()["insights"]
    assert model_env.stats()["requests"] == 0


def test_with_the_circuit_open_the_evaluations_go_on_without_the_model_degraded(
        model_env: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORGANISM_GATEWAY__BREAKER_FAILURES", "1")
    get_settings.cache_clear()
    model_env.control(script=["500"])
    with pytest.raises(EndpointFailure):
        gateway().chat([{"role": "user", "content": "this failure opens the circuit"}])

    result = risk_evaluator(_deterministic())

    assert result["engine"].startswith("deterministic (model unavailable: circuit open for")
    assert [d["dependency"] for d in result["degraded"]] == ["model"]
    assert [r["insight"] for r in result["ranking"]] == ["i1", "i2"]
    assert model_env.stats()["requests"] == 1


def test_without_a_model_the_skills_say_they_are_deterministic(store_url: str,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORGANISM_DATABASE_URL", store_url)
    monkeypatch.delenv("ORGANISM_GATEWAY__BASE_URL", raising=False)
    get_settings.cache_clear()
    try:
        synthesis = cross_quadrant_synthesis(SCANS)
        evaluations = [opportunity_evaluator(synthesis), risk_evaluator(synthesis)]
    finally:
        get_settings.cache_clear()

    assert [r["engine"] for r in (synthesis, *evaluations)] == [NO_MODEL] * 3
    assert synthesis["insights"] == _deterministic()["insights"]


def _deterministic() -> dict[str, Any]:
    from tasks.analysis.synthesis import synthesize

    return synthesize(SCANS)
