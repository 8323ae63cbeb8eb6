"""Policies against real fake servers that count requests: a call outside policy is refused before any request
leaves, recorded in the ledger as refused with the policy's name; a skill's daily tokens, rate and max tokens."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from organism.cli.gateway import ledger
from organism.errors import Deferred
from organism.gateway.budget import BudgetExhausted
from organism.gateway.client import Gateway
from organism.gateway.ledger import ledger_totals, refusals
from organism.gateway.models import LedgerEntry
from organism.gateway.policy import PolicyRefused, PolicyTokensSpent
from organism.store import session
from tests.gateway.conftest import FakeServer, endpoint, routed_settings

pytestmark = pytest.mark.integration

HELLO = [{"role": "user", "content": "hello"}]
SCANNER = "q1p0.pain_scanner"


def _gateway(store_url: str, fleet: list[FakeServer], policies: dict[str, object]) -> Gateway:
    return Gateway(routed_settings(store_url, {"chat-default": [endpoint("chat", fleet[0])],
                                               "bulk-cheap": [endpoint("bulk", fleet[1])]}, policies=policies))


def test_a_route_the_skill_may_not_use_is_refused_before_any_request_and_recorded(
        store_url: str, fleet: list[FakeServer]) -> None:
    gateway = _gateway(store_url, fleet, {SCANNER: {"routes": ["chat-default"]}})

    with pytest.raises(PolicyRefused) as refused:
        gateway.chat(HELLO, route="bulk-cheap", skill=SCANNER, run_id="run-1")

    assert str(refused.value) == f"policy skill {SCANNER}: route bulk-cheap is not allowed (allowed: chat-default)"
    assert [server.stats()["requests"] for server in fleet] == [0, 0, 0], "a request left"
    with session(store_url) as s:
        row = s.scalars(select(LedgerEntry)).one()
    assert (row.status, row.route, row.endpoint, row.model, row.policy, row.skill, row.run_id) == (
        "refused", "bulk-cheap", None, None, f"skill {SCANNER}", SCANNER, "run-1")
    assert (row.prompt_tokens, row.completion_tokens, row.cost_usd) == (0, 0, 0.0)
    assert [(r.skill, r.route, r.policy, r.reason) for r in refusals(store_url)] == [
        (SCANNER, "bulk-cheap", f"skill {SCANNER}", str(refused.value))]
    assert [(t.key, t.calls, t.refused) for t in ledger_totals(store_url, by="route")] == [("bulk-cheap", 0, 1)]

    gateway.chat(HELLO, skill=SCANNER)  # its allowed route still answers
    assert [server.stats()["requests"] for server in fleet] == [1, 0, 0]
    for by, rows in (("route", {"chat-default": "1", "bulk-cheap": "0"}), ("endpoint", {"chat": "1", "-": "0"})):
        done = CliRunner().invoke(ledger, ["--by", by], env={"ORGANISM_DATABASE_URL": store_url, "COLUMNS": "160"})
        assert done.exit_code == 0, done.output
        cells = {line.split("│")[1].strip(): [c.strip() for c in line.split("│")[2:-1]]
                 for line in done.output.splitlines() if line.count("│") == 8}
        assert {key: cells[key][0] for key in rows} == rows, done.output  # answered calls
        assert cells[list(rows)[1]][-1] == "1" and cells["total"][-1] == "1", done.output  # refused


def test_past_the_skills_daily_tokens_its_calls_are_refused_as_a_spent_budget(store_url: str,
                                                                                fleet: list[FakeServer]) -> None:
    gateway = _gateway(store_url, fleet, {SCANNER: {"daily_tokens": 1}})
    gateway.chat(HELLO, skill=SCANNER)

    with pytest.raises(PolicyTokensSpent) as refused:
        gateway.chat(HELLO, skill=SCANNER)

    assert isinstance(refused.value, BudgetExhausted), "a skill with optional model goes on without it"
    assert str(refused.value).startswith(f"policy skill {SCANNER}: daily tokens reached: ")
    assert fleet[0].stats()["requests"] == 1
    gateway.chat(HELLO, skill="another.skill")  # its own tokens are not another skill's
    assert fleet[0].stats()["requests"] == 2
    assert [r.policy for r in refusals(store_url)] == [f"skill {SCANNER}"]


def test_a_skills_rate_limit_makes_its_next_call_wait(store_url: str, fleet: list[FakeServer]) -> None:
    gateway = _gateway(store_url, fleet, {"q1p0.pain_scanner": {"requests_per_minute": 2}})
    gateway.chat(HELLO, skill=SCANNER)
    gateway.chat(HELLO, skill=SCANNER)

    with pytest.raises(Deferred) as waiting:
        gateway.chat(HELLO, skill=SCANNER)

    assert str(waiting.value).startswith(f"policy skill {SCANNER}: 2 calls in the last minute, its limit is 2")
    assert 50 < waiting.value.wait_s <= 60
    assert fleet[0].stats()["requests"] == 2
    assert refusals(store_url) == [], "a wait is no refusal"


def test_max_tokens_above_the_policy_is_refused_and_none_asked_sends_the_policys(store_url: str,
                                                                                  fleet: list[FakeServer]) -> None:
    gateway = _gateway(store_url, fleet, {SCANNER: {"max_tokens": 64}})

    gateway.chat(HELLO, skill=SCANNER)
    gateway.chat(HELLO, skill=SCANNER, max_tokens=32)
    with pytest.raises(PolicyRefused, match=f"^policy skill {SCANNER}: max_tokens 65 is above its limit of 64$"):
        gateway.chat(HELLO, skill=SCANNER, max_tokens=65)

    assert fleet[0].stats()["max_tokens"] == [64, 32]
