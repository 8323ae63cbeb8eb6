"""Routes and policies as settings: declared in TOML or JSON, each mistake one line naming it when the app or a
command starts; a weighted route's cycle; a policy's decision, made without the store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from organism.app import create_app
from organism.gateway.client import Gateway
from organism.gateway.policy import Policies, PolicyRefused
from organism.gateway.routes import problems, smooth_cycle
from organism.settings import SettingsError, load
from tests.integration.test_cli import organism

GOOD = {"base_url": "http://127.0.0.1:1/v1", "model": "gpt-4o-mini"}
ZONE = ZoneInfo("Asia/Shanghai")


def _routes(**routes: Any) -> dict[str, Any]:
    return {"gateway": {"routes": routes}}


def _problems(**gateway: Any) -> list[str]:
    return problems(load(gateway=gateway))


def test_routes_and_policies_are_read_from_the_toml_file(environ: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "organism.toml"
    path.write_text("""
[gateway.routes.chat-default]
strategy = "failover"
[[gateway.routes.chat-default.endpoints]]
name = "east"
base_url = "http://127.0.0.1:1/v1"
model = "gpt-4o-mini"
max_concurrency = 5
[[gateway.routes.chat-default.endpoints]]
name = "west"
base_url = "http://127.0.0.1:2/v1"
model = "deepseek-chat"
input_usd_per_mtok = 0.5
output_usd_per_mtok = 1.5

[[gateway.routes.bulk-cheap.endpoints]]
name = "west"
base_url = "http://127.0.0.1:2/v1"
model = "deepseek-chat"
weight = 2
input_usd_per_mtok = 0.5
output_usd_per_mtok = 1.5

[gateway.policies."organ.perception"]
routes = ["bulk-cheap"]
[gateway.policies."q1p0.pain_scanner"]
routes = ["chat-default", "bulk-cheap"]
max_tokens = 800
""")
    environ.setenv("ORGANISM_CONFIG_FILE", str(path))

    gateway = Gateway(load())

    assert gateway.routes.default == "chat-default"
    east, west = gateway.routes.route("chat-default").targets
    assert (east.name, east.model, east.semaphore.limit, west.name) == ("east", "gpt-4o-mini", 5, "west")
    assert gateway.routes.route("bulk-cheap").targets == (west,), "one name is one endpoint, whichever route"
    assert west.prices.price("anything").input_usd_per_mtok == 0.5
    scanner = gateway.policies.decide("q1p0.pain_scanner", "perception", None, None)
    assert (scanner.route, scanner.max_tokens) == ("chat-default", 800)
    assert gateway.policies.decide("q2p0.emotion_scanner", "perception", None, None).route == "bulk-cheap"


def test_routes_are_read_from_json_in_the_environment(environ: pytest.MonkeyPatch) -> None:
    environ.setenv("ORGANISM_GATEWAY__ROUTES", json.dumps({"bulk-cheap": {"endpoints": [GOOD]}}))
    environ.setenv("ORGANISM_GATEWAY__POLICIES", json.dumps({"organ.judgment": {"daily_tokens": 1000}}))

    settings = load()

    assert list(settings.gateway.all_routes) == ["bulk-cheap"] and settings.gateway.configured
    assert settings.gateway.policies["organ.judgment"].daily_tokens == 1000
    assert problems(settings) == []


def test_base_url_and_model_alone_are_the_route_default_with_one_endpoint_named_by_its_url() -> None:
    gateway = Gateway(load(gateway={"base_url": "http://user:pw@127.0.0.1:8900/v1/", "model": "fake-model"}))

    (target,) = gateway.routes.route("default").targets
    assert (gateway.routes.default, target.name, target.model) == ("default", "http://127.0.0.1:8900/v1",
                                                                   "fake-model")


def test_each_structural_mistake_is_one_line_naming_the_route() -> None:
    with pytest.raises(SettingsError) as raised:
        load(**_routes(empty={}, zero={"endpoints": [{**GOOD, "weight": 0}]},
                       odd={"strategy": "random", "endpoints": [{**GOOD, "weight": -1}]},
                       bad={"endpoints": [{"base_url": "ftp://x", "model": "m"}]},
                       both={"endpoints": [{**GOOD, "api_key": "k", "api_key_file": "/k"}]}))

    assert str(raised.value).splitlines() == [
        "setting ORGANISM_GATEWAY__ROUTES[empty]: Value error, a route needs at least one endpoint "
        "([[gateway.routes.<alias>.endpoints]])",
        "setting ORGANISM_GATEWAY__ROUTES[zero]: Value error, every weight is 0: give at least one endpoint a "
        "weight above 0",
        "setting ORGANISM_GATEWAY__ROUTES[odd][strategy]: Input should be 'weighted', 'least_in_flight' or "
        "'failover' (got 'random')",
        "setting ORGANISM_GATEWAY__ROUTES[odd][endpoints][0][weight]: Input should be greater than or equal to 0 "
        "(got -1)",
        "setting ORGANISM_GATEWAY__ROUTES[bad][endpoints][0][base_url]: Value error, must start with http:// or "
        "https://, e.g. http://127.0.0.1:8900/v1 (got 'ftp://x')",
        "setting ORGANISM_GATEWAY__ROUTES[both][endpoints][0]: Value error, give api_key or api_key_file, not both",
    ]


def test_what_spans_routes_prices_files_and_policies_is_one_line_each(tmp_path: Path) -> None:
    empty_key = tmp_path / "empty-key"
    empty_key.write_text("\n")
    found = problems(load(gateway={
        **GOOD,
        "default_route": "nope",
        "routes": {
            "default": {"endpoints": [GOOD]},
            "chat": {"endpoints": [{**GOOD, "name": "e", "model": "gpt-9"},
                                   {**GOOD, "name": "e"},
                                   {**GOOD, "name": "k", "api_key_file": str(tmp_path / "missing")},
                                   {**GOOD, "name": "k2", "api_key_file": str(empty_key)}]},
            "other": {"endpoints": [{**GOOD, "name": "k", "model": "gpt-4o"}]},
        },
        "policies": {"organ.nose": {}, "q1p0.pain_scanner": {"routes": ["chat", "bulk"], "route": "other"}},
    }))

    assert found == [
        "gateway route default: declared twice, by ORGANISM_GATEWAY__BASE_URL and MODEL and in [gateway.routes]; "
        "name yours otherwise or unset BASE_URL and MODEL",
        "gateway default_route nope: no such route (routes: default, chat, other)",
        "gateway route chat: endpoint e is named twice; give each its own name",
        "gateway endpoint k: declared differently in routes chat and other (one name is one endpoint: give each "
        "its own name)",
        "gateway route chat, endpoint e: no price for model gpt-9 in config/prices.toml; add it there or give the "
        "endpoint input_usd_per_mtok and output_usd_per_mtok",
        f"gateway route chat, endpoint k: api_key_file {tmp_path / 'missing'}: cannot be read (No such file or "
        "directory)",
        f"gateway route chat, endpoint k2: api_key_file {empty_key}: is empty",
        "gateway policy organ.nose: no organ nose (organs: perception, judgment, relationship, evolution)",
        "gateway policy q1p0.pain_scanner: no route bulk (routes: default, chat, other)",
        "gateway policy q1p0.pain_scanner: its route other is not among its routes (chat, bulk)",
    ]


def test_the_app_and_every_command_refuse_to_start_with_one_line_per_problem() -> None:
    routes = {"chat": {"endpoints": [{**GOOD, "model": "gpt-9"}]}}
    with pytest.raises(SettingsError, match=r"^gateway route chat, endpoint http://127\.0\.0\.1:1/v1: no price for "):
        create_app(load(gateway={"routes": routes}))

    done = organism("ledger", env={"ORGANISM_GATEWAY__ROUTES": json.dumps(routes)})

    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.strip() == (
        "Error: bad configuration: gateway route chat, endpoint http://127.0.0.1:1/v1: no price for model gpt-9 in "
        "config/prices.toml; add it there or give the endpoint input_usd_per_mtok and output_usd_per_mtok")


@pytest.mark.parametrize(("weights", "cycle"), [
    ((3, 1), (0, 0, 1, 0)),
    ((1, 1, 1), (0, 1, 2)),
    ((5, 1, 1), (0, 0, 1, 0, 2, 0, 0)),
    ((0.7, 0.3), (0, 1, 0, 0, 0, 1, 0, 0, 1, 0)),
    ((2, 0), (0,)),
])
def test_a_weighted_cycle_serves_each_endpoint_its_share_spread_out(weights: tuple[float, ...],
                                                                    cycle: tuple[int, ...]) -> None:
    assert smooth_cycle(weights) == cycle


def test_a_weight_below_a_thousandth_still_gets_its_turn() -> None:
    cycle = smooth_cycle((0.0001, 1))

    assert (len(cycle), cycle.count(0)) == (1001, 1)


def _policies(policies: dict[str, Any], **gateway: Any) -> Policies:
    config = load(gateway={"routes": {"chat-default": {"endpoints": [GOOD]}, "bulk-cheap": {"endpoints": [GOOD]}},
                           "policies": policies, **gateway}).gateway
    return Policies(config, "chat-default", ZONE)


def test_a_route_outside_the_policy_is_refused_naming_the_policy() -> None:
    policies = _policies({"q1p0.pain_scanner": {"routes": ["chat-default"]}})

    with pytest.raises(PolicyRefused) as refused:
        policies.decide("q1p0.pain_scanner", "perception", "bulk-cheap", None)

    assert str(refused.value) == ("policy skill q1p0.pain_scanner: route bulk-cheap is not allowed "
                                  "(allowed: chat-default)")
    assert (refused.value.policy, refused.value.route) == ("skill q1p0.pain_scanner", "bulk-cheap")
    assert policies.decide("q1p0.pain_scanner", "perception", "chat-default", None).route == "chat-default"
    assert policies.decide("other.skill", "perception", "bulk-cheap", None).route == "bulk-cheap", "no policy"


def test_a_skills_policy_overrides_its_organs_field_by_field_and_picks_its_default_route() -> None:
    policies = _policies({"organ.perception": {"routes": ["bulk-cheap"], "max_tokens": 500, "daily_tokens": 9},
                          "q1p0.pain_scanner": {"max_tokens": 900}})

    scanner = policies.decide("q1p0.pain_scanner", "perception", None, None)
    other = policies.decide("q2p0.emotion_scanner", "perception", None, None)

    assert (scanner.route, scanner.max_tokens) == ("bulk-cheap", 900)
    assert scanner.policy.daily_tokens is not None and scanner.policy.daily_tokens.policy == "organ perception"
    assert scanner.policy.max_tokens is not None and scanner.policy.max_tokens.policy == "skill q1p0.pain_scanner"
    assert (other.route, other.max_tokens) == ("bulk-cheap", 500)
    with pytest.raises(PolicyRefused, match=r"^policy organ perception: route chat-default is not allowed \("):
        policies.decide("q2p0.emotion_scanner", "perception", "chat-default", None)
    judge = policies.decide("p1.opportunity_evaluator", "judgment", None, None)
    assert (judge.route, judge.max_tokens) == ("chat-default", None)


def test_max_tokens_above_the_policys_limit_is_refused_and_none_asked_sends_the_limit() -> None:
    policies = _policies({"organ.judgment": {"max_tokens": 300}}, max_tokens=200)

    assert policies.decide("p1.risk_evaluator", "judgment", None, None).max_tokens == 200
    assert policies.decide("p1.risk_evaluator", "judgment", None, 300).max_tokens == 300
    with pytest.raises(PolicyRefused, match=r"^policy organ judgment: max_tokens 301 is above its limit of 300$"):
        policies.decide("p1.risk_evaluator", "judgment", None, 301)
    assert _policies({"organ.judgment": {"max_tokens": 300}}).decide("p1.risk_evaluator", "judgment", None,
                                                                      None).max_tokens == 300
