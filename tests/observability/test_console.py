"""The console in a real headless chromium: a run's DAG, dead letters replayed from the browser, token totals
that match the ledger, the cluster; a screenshot of each page goes to test-artifacts/."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
import redis
from playwright.sync_api import Page, expect
from sqlalchemy import delete

from organism.failures import dead_letters
from organism.gateway import ledger
from organism.gateway.ledger import day_start, ledger_totals
from organism.gateway.models import LedgerEntry
from organism.gateway.prices import Price
from organism.gateway.provider import ChatResult, Usage
from organism.store import session
from organism.workflows.start import start
from tests.conftest import Cluster
from tests.support.noop import GATE, NOOP_SYNC, gated_scan
from tests.support.services import finished_run, wait_for

pytestmark = pytest.mark.integration
WINDOW = {"start": "2026-03-31T06:00:00+08:00", "end": "2026-04-01T06:00:00+08:00"}


def _shot(page: Page, artifacts: Path, name: str) -> None:
    page.screenshot(path=str(artifacts / f"console-{name}.png"), full_page=True)


def _unsafe_letter(url: str) -> int:
    """A dead letter of test.scan, a skill left at the default effect, unsafe: replaying it needs confirming."""
    letter = dead_letters.Letter(task_id=str(uuid.uuid4()), task_name="test.scan", organ="perception", run_id=None,
                               node=None, args=[["feed"], WINDOW], kwargs={}, reason="exhausted",
                               error_type="TimeoutError", error_message="source did not answer in 30s", traceback=None,
                               attempts=[{"at": datetime.now().isoformat(), "error": "TimeoutError", "action": "dead"}])
    with session(url) as s:
        dead_letters.record(s, letter)
    return next(found.id for found in dead_letters.find(url) if found.task_id == letter.task_id)


@pytest.fixture
def billed(production: Cluster) -> Iterator[None]:
    """Four answered model calls in the ledger, as the gateway writes them; removed afterwards."""
    url, endpoint = production.settings.database, "http://127.0.0.1:2/v1"
    with session(url) as s:
        for seq in range(4):
            call = ledger.CallKey(uuid.uuid4().hex, 0, seq, "test.judge", "judgment", None, in_task=True)
            ledger.record(s, call, endpoint, ChatResult("{}", Usage(1200 + seq, 300), "fake-model", 0.3),
                          Price(1.0, 2.0))
    yield
    with session(url) as s:
        s.execute(delete(LedgerEntry).where(LedgerEntry.endpoint == endpoint))


def test_a_run_its_dead_letters_replayed_and_the_token_totals(production: Cluster, billed: None, page: Page,
                                                              artifacts: Path) -> None:
    url, gate = production.settings.database, redis.Redis.from_url(GATE)
    run = finished_run(url, start(production.app, NOOP_SYNC, {"date": "2026-04-01"}).run_id)
    gate.delete("gate")
    with pytest.raises(Exception, match="gate closed"):
        gated_scan.delay(["feed"], WINDOW).get(timeout=20)
    gated = wait_for(lambda: dead_letters.find(url, skill="test.gated_scan"), 20, "the gated scan's dead letter")[0]
    unsafe_id = _unsafe_letter(url)

    page.goto("/runs")
    expect(page.locator("#runs")).to_contain_text(run.key)
    _shot(page, artifacts, "runs")
    page.get_by_role("link", name=run.key).click()
    dag = page.locator("svg#dag")
    expect(dag.locator("a.node")).to_have_count(8)
    expect(dag.locator("a.node.succeeded")).to_have_count(8)
    expect(dag.locator(".phase")).to_have_text(["perception", "synthesis", "judgment", "store"])
    expect(dag.locator("path.edge")).to_have_count(4 + 2 + 2)
    expect(page.locator("#node-synthesis")).to_contain_text("test.join")
    _shot(page, artifacts, "run")

    page.goto("/dead-letters")
    expect(page.locator(f"tr[data-letter='{gated.id}']")).to_contain_text("gate closed")
    _shot(page, artifacts, "dead-letters")
    page.get_by_role("link", name=str(gated.id), exact=True).click()
    expect(page.locator("pre.traceback")).to_contain_text("PermanentError: gate closed")
    _shot(page, artifacts, "dead-letter")

    gate.set("gate", "open")
    page.goto("/dead-letters")
    page.locator(f"button[data-replay='{gated.id}']").click()
    expect(page.locator(".flash.ok")).to_contain_text(f"dead letter {gated.id} replayed as task")
    expect(page.locator(f"tr[data-letter='{gated.id}']")).to_have_count(0)
    replayed_as = dead_letters.get(url, gated.id).replayed_as  # type: ignore[union-attr]
    assert production.app.AsyncResult(replayed_as).get(timeout=20)["quadrant"] == "q2"

    def replay_succeeded() -> bool:
        page.goto("/dead-letters?status=replayed")
        return page.locator(f"tr[data-letter='{gated.id}'] .badge").inner_text() == "SUCCESS"

    wait_for(replay_succeeded, 20, "the console to show the replay's success", interval_s=0.5)
    _shot(page, artifacts, "dead-letters-replayed")

    page.goto("/dead-letters")
    page.get_by_label(f"select {unsafe_id}").check()
    page.locator("#replay-selected").click()
    expect(page.locator("h1")).to_contain_text("Replay 1 dead letter?")
    expect(page.locator(".card.warning")).to_contain_text("test.scan")
    _shot(page, artifacts, "confirm-replay")
    page.locator("#confirm-replay").click()
    expect(page.locator(".flash.ok")).to_contain_text(f"dead letter {unsafe_id} replayed")
    expect(page.locator(f"tr[data-letter='{unsafe_id}']")).to_have_count(0)

    page.goto("/tokens")
    zone = production.settings.zone
    totals = ledger_totals(url, day_start(datetime.now(zone).date(), zone))
    today, tokens = sum(t.cost_usd for t in totals), sum(t.prompt_tokens + t.completion_tokens for t in totals)
    assert float(page.locator("#total-1 .big").get_attribute("data-usd") or "nan") == pytest.approx(today, abs=1e-6)
    assert int(page.locator("#total-1 [data-tokens]").get_attribute("data-tokens") or -1) == tokens
    expect(page.locator("table[data-window='today'][data-by='skill']")).to_contain_text("test.judge")
    _shot(page, artifacts, "tokens")

    page.goto("/cluster")
    for organ in ("perception", "judgment", "relationship", "evolution"):
        expect(page.locator(f"tr[data-queue='{organ}']")).to_contain_text(f"{organ}@")
    _shot(page, artifacts, "cluster")
