"""The token ledger counts what the provider billed, once; budgets stop calls before they reach the provider."""

from __future__ import annotations

import uuid

import pytest
from celery.result import ResultSet
from click.testing import CliRunner
from sqlalchemy import select

from organism.cli.gateway import ledger
from organism.gateway.budget import BudgetExhausted
from organism.gateway.client import Gateway
from organism.gateway.ledger import ledger_totals
from organism.gateway.models import LedgerEntry
from organism.store import session
from tests.gateway.conftest import API_KEY, FakeServer, Workers, gateway_settings, log_text

pytestmark = pytest.mark.integration

FAKE_PRICE = (1.00, 2.00)  # config/prices.toml: fake-model, USD per million prompt and completion tokens


def test_ledger_totals_equal_the_usage_the_server_sent_with_retries_and_a_redelivery(
        workers: Workers, server: FakeServer) -> None:
    url = workers.settings.database
    workers.send("test.gateway.ask_then_fail_once", "answered, then the task failed").get(timeout=30, interval=0.05)
    server.control(script=["500"])  # the next call fails, and its task's retry pays for an answer
    plain = [workers.send("test.gateway.ask", f"question {i}") for i in range(4)]
    ResultSet(plain, app=workers.app).get(timeout=60, interval=0.05)
    again = str(uuid.uuid4())
    delivery = workers.send("test.gateway.ask", "delivered twice", task_id=again)
    first = delivery.get(timeout=30, interval=0.05)
    delivery.forget()  # the same message again (same task id, first attempt): as if a worker died before its ack
    redelivered = workers.send("test.gateway.ask", "delivered twice", task_id=again).get(timeout=30, interval=0.05)

    stats = server.stats()
    assert stats["outcomes"] == {"500": 1, "ok": 4 + 2 + 1}
    assert (first["replayed"], redelivered["replayed"]) == (False, True)
    assert redelivered["content"] == first["content"]
    totals = ledger_totals(url, by="skill")
    assert {t.key: t.calls for t in totals} == {"test.gateway.ask": 5, "test.gateway.ask_then_fail_once": 2}
    assert sum(t.prompt_tokens for t in totals) == stats["prompt_tokens"]
    assert sum(t.completion_tokens for t in totals) == stats["completion_tokens"]
    expected_usd = (stats["prompt_tokens"] * FAKE_PRICE[0] + stats["completion_tokens"] * FAKE_PRICE[1]) / 1e6
    assert sum(t.cost_usd for t in totals) == pytest.approx(expected_usd)
    with session(url) as s:
        rows = s.scalars(select(LedgerEntry)).all()
        assert {(r.attempt, r.organ) for r in rows if r.skill == "test.gateway.ask_then_fail_once"} == {
            (0, "perception"), (1, "perception")}
        assert not any(API_KEY in repr(vars(r)) for r in rows)
    assert API_KEY not in log_text(workers.workers.log_dir / "worker-perception.log")


def test_past_the_daily_budget_no_call_reaches_the_server(store_url: str, server: FakeServer) -> None:
    gateway = Gateway(gateway_settings(store_url, server.url, daily_budget_usd=0.00001))
    gateway.chat([{"role": "user", "content": "this one spends the whole budget"}])

    with pytest.raises(BudgetExhausted) as refused:
        gateway.chat([{"role": "user", "content": "one too many"}])

    assert refused.value.status == "budget_exhausted"
    assert str(refused.value).startswith("daily model budget reached: 0.0000")
    assert "ORGANISM_GATEWAY__DAILY_BUDGET_USD" in str(refused.value)
    assert server.stats()["requests"] == 1


def test_past_a_runs_budget_only_that_run_is_refused(store_url: str, server: FakeServer) -> None:
    gateway = Gateway(gateway_settings(store_url, server.url, run_budget_usd=0.00001))
    gateway.chat([{"role": "user", "content": "spends run a's budget"}], run_id="run-a")

    with pytest.raises(BudgetExhausted, match=r"run model budget reached: .* by run run-a"):
        gateway.chat([{"role": "user", "content": "one too many"}], run_id="run-a")
    gateway.chat([{"role": "user", "content": "another run still may"}], run_id="run-b")

    assert server.stats()["requests"] == 2


def test_the_ledger_command_prints_totals_in_usd_and_cny(store_url: str, server: FakeServer) -> None:
    gateway = Gateway(gateway_settings(store_url, server.url))
    for skill in ("q1p0.pain_scanner", "q1p0.pain_scanner", "p2.cross_quadrant_synthesis"):
        gateway.chat([{"role": "user", "content": "x" * 400}], skill=skill)
    cost = sum(t.cost_usd for t in ledger_totals(store_url))

    done = CliRunner().invoke(ledger, ["--today", "--by", "skill"],
                              env={"ORGANISM_DATABASE_URL": store_url, "ORGANISM_GATEWAY__CNY_PER_USD": "7.1",
                                   "COLUMNS": "160"})

    assert done.exit_code == 0, done.output
    lines = done.output.splitlines()
    assert any("q1p0.pain_scanner" in line and "│     2 │" in line for line in lines), done.output
    total = next(line for line in lines if "total" in line)
    assert f"{cost:.4f}" in total and f"{cost * 7.1:.4f}" in total
    assert "by skill; CNY at 7.1 per USD" in " ".join(done.output.split())


def test_the_ledger_command_refuses_both_today_and_since(store_url: str) -> None:
    done = CliRunner().invoke(ledger, ["--today", "--since", "2026-01-01"], env={"ORGANISM_DATABASE_URL": store_url})

    assert done.exit_code == 1 and "give --today or --since, not both" in done.output
