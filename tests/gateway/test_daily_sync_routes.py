"""Daily Syncs on real workers through a route of two fake servers: failover keeps every node on the model while one
endpoint is down; with both down the run degrades, each reason naming both; a skill whose prompt names a route its
policy forbids is refused before any request. The console, in a real headless chromium, shows each endpoint's
state on the Cluster page and the cost by route and endpoint, and the refusal with its policy, on the Tokens page.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from organism.gateway.ledger import ledger_totals, refusals
from organism.store.models import Run
from tasks.daily_sync import EVALUATIONS, SCANS
from tests.conftest import daily_sync_on_own_workers
from tests.gateway.conftest import FakeServer, endpoint
from tests.observability.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.observability.servers import accounts, serving, sign_in
from tests.support.services import ROOT, ensure_services

pytestmark = pytest.mark.integration

MODEL_NODES = [*SCANS, "synthesis", *EVALUATIONS]
ROUTE = "chat-default"


def _sync(tmp_path: Path, routes: dict[str, list[dict[str, Any]]], **extra: str) -> tuple[Run, str, dict[str, str]]:
    """A Daily Sync on workers of its own with ``routes``; the run, its store and the workers' environment."""
    ensure_services()
    run, settings, env = daily_sync_on_own_workers(tmp_path, {
        "ORGANISM_GATEWAY__ROUTES": json.dumps({alias: {"endpoints": e} for alias, e in routes.items()}),
        "ORGANISM_RETRY_BACKOFF_BASE_S": "0.05", **extra})
    return run, settings.database, env


@contextmanager
def console_page(env: dict[str, str], tmp_path: Path) -> Iterator[Page]:
    """The console on ``env``'s store, in a headless chromium signed in as the tests' operator."""
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is missing: the console tests need Debian's chromium (apt-get install -y chromium)")
    with serving("console", accounts(env), tmp_path / "console.log", probe="/healthz") as console, \
            sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_context(viewport={"width": 1280, "height": 860}, base_url=console.url).new_page()
        sign_in(page)
        yield page
        browser.close()


def test_with_one_endpoint_down_failover_keeps_every_node_on_the_model_and_the_console_shows_why(
        fleet: list[FakeServer], tmp_path: Path, artifacts: Path) -> None:
    down, up, _ = fleet
    down.control(fail_rate=1.0)

    run, url, env = _sync(tmp_path, {ROUTE: [endpoint("down", down), endpoint("up", up)]})

    assert run.status == "succeeded", run.error
    nodes = {node.name: node for node in run.nodes}
    for name in MODEL_NODES:
        assert not nodes[name].degraded, (name, nodes[name].degraded)
        assert nodes[name].result["engine"] == "model:fake-model", name
    assert down.stats()["outcomes"].get("500", 0) >= 1, "the first call's turn is down's"
    assert set(down.stats()["outcomes"]) == {"500"}
    answered = up.stats()["outcomes"]["ok"]
    assert {t.key: t.calls for t in ledger_totals(url, by="endpoint")} == {"up": answered}

    with console_page(env, tmp_path) as page:
        page.goto("/cluster")
        failing, serving_ = page.locator("tr[data-endpoint='down']"), page.locator("tr[data-endpoint='up']")
        expect(failing.locator(".routes")).to_have_text(ROUTE)
        expect(failing.locator("td.last-error")).to_contain_text("down: HTTP 500 Internal Server Error")
        expect(failing.locator("td.pause")).to_have_text("none")
        expect(failing.locator("td.in-flight")).to_contain_text("0 / 3")
        assert failing.locator("td.breaker").get_attribute("data-breaker") in ("open", "closed")
        expect(serving_.locator("td.breaker")).to_have_attribute("data-breaker", "closed")
        expect(serving_.locator("td.last-error")).to_have_text("none")
        page.screenshot(path=str(artifacts / "console-cluster-routes.png"), full_page=True)

        page.goto("/tokens")
        by_route = page.locator("table[data-window='today'][data-by='route'] tbody tr")
        expect(by_route).to_have_count(1)
        expect(by_route.first).to_contain_text(ROUTE)
        expect(by_route.first.locator("td").nth(1)).to_have_text(str(answered))
        by_endpoint = page.locator("table[data-window='today'][data-by='endpoint'] tbody tr")
        expect(by_endpoint).to_have_count(1)
        expect(by_endpoint.first.locator("td").first).to_have_text("up")


def test_with_every_endpoint_down_the_daily_sync_degrades_naming_each_endpoint(fleet: list[FakeServer],
                                                                              tmp_path: Path) -> None:
    for one in fleet[:2]:
        one.control(fail_rate=1.0)

    run, _, _ = _sync(tmp_path, {ROUTE: [endpoint("down-a", fleet[0]), endpoint("down-b", fleet[1])]})

    assert run.status == "succeeded", run.error
    nodes = {node.name: node for node in run.nodes}
    for name in MODEL_NODES:
        assert [note["dependency"] for note in nodes[name].degraded] == ["model"], (name, nodes[name].degraded)
        reason = nodes[name].degraded[0]["reason"]
        assert reason.startswith(f"route {ROUTE}: no endpoint answered or is available: "), (name, reason)
        assert "down-a" in reason and "down-b" in reason, (name, reason)
        assert nodes[name].result["engine"].startswith("deterministic (model unavailable: route "), name


def test_a_skill_whose_prompt_names_a_route_its_policy_forbids_is_refused_before_any_request(
        fleet: list[FakeServer], tmp_path: Path, artifacts: Path) -> None:
    chat, bulk, _ = fleet
    prompts = tmp_path / "prompts"
    shutil.copytree(ROOT / "config/prompts", prompts)
    for name in ("opportunity", "risk"):  # both evaluations: no model call is in flight when the run fails
        template = prompts / f"{name}.toml"
        template.write_text('route = "bulk-cheap"\n' + template.read_text())

    run, url, env = _sync(tmp_path, {ROUTE: [endpoint("chat", chat)], "bulk-cheap": [endpoint("bulk", bulk)]},
                          ORGANISM_GATEWAY__PROMPTS_DIR=str(prompts),
                          ORGANISM_GATEWAY__POLICIES=json.dumps({"organ.judgment": {"routes": [ROUTE]}}))

    reason = f"policy organ judgment: route bulk-cheap is not allowed (allowed: {ROUTE})"
    nodes = {node.name: node for node in run.nodes}
    assert run.status == "failed"
    assert nodes["synthesis"].status == "succeeded" and not nodes["synthesis"].degraded
    failed = [name for name in EVALUATIONS if nodes[name].status == "failed"]
    assert failed and all(reason in (nodes[name].error or "") for name in failed), run.nodes
    assert bulk.stats()["requests"] == 0, "a request reached the forbidden route's server"
    assert chat.stats()["outcomes"] == {"ok": sum(t.calls for t in ledger_totals(url))}
    found = refusals(url)
    assert {(r.route, r.policy, r.reason) for r in found} == {("bulk-cheap", "organ judgment", reason)}
    assert {nodes[name].skill for name in failed} <= {r.skill for r in found}  # each recorded before it failed

    with console_page(env, tmp_path) as page:
        page.goto("/tokens")
        rows = page.locator("#refusals tr[data-policy='organ judgment']")
        expect(rows).to_have_count(len(found))
        expect(rows.first).to_contain_text("bulk-cheap")
        expect(rows.first.locator("td.why")).to_have_text(reason)
        expect(page.locator("#refusals")).to_contain_text(found[0].skill or "?")
        refused = page.locator("table[data-window='today'][data-by='route'] [data-refused]")
        expect(refused).to_have_text(f"{len(found)} refused")
        page.screenshot(path=str(artifacts / "console-tokens-refused.png"), full_page=True)

