"""An operator on call closes the loop from the console: a failed Daily Sync-shaped run shows what will not run,
a node's dead letter replays into its run, Resume finishes it, Cancel ends a running one, and a dead letter is
replayed with edited arguments; every action lands in the audit trail."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
import redis
from playwright.sync_api import Page, expect

from organism.failures import dead_letters
from organism.store import session
from organism.store.models import AuditEntry
from organism.workflows.queries import find_run
from organism.workflows.start import start
from tests.conftest import Cluster
from tests.support.faulty import refuse
from tests.support.holds import release
from tests.support.noop import ALL_GATED_SYNC, GATE, HANG_SYNC
from tests.support.services import finished_run, wait_for

pytestmark = pytest.mark.integration


def _actions(url: str) -> list[tuple[str, str]]:
    with session(url) as s:
        return [(e.action, e.outcome) for e in s.query(AuditEntry).order_by(AuditEntry.id)]


def test_replay_a_node_into_its_run_then_resume_the_rest(production: Cluster, page: Page, artifacts: Path) -> None:
    url, gate = production.settings.database, redis.Redis.from_url(GATE)
    gate.delete("gate")
    run = finished_run(url, start(production.app, ALL_GATED_SYNC, {"date": date(2026, 5, 1)}).run_id)
    wait_for(lambda: len(dead_letters.find(url, run=run.id)) == 4, 30, "the four scans' dead letters")
    gate.set("gate", "open")

    page.goto(f"/runs/{run.key}")
    expect(page.locator("#node-store .badge")).to_have_text("not run (upstream failed)")
    expect(page.locator("svg#dag a.node.not-run")).to_have_count(4)
    expect(page.locator("#cancel")).to_be_visible()
    page.screenshot(path=str(artifacts / "console-run-failed.png"), full_page=True)

    page.locator("button.replay-node[data-node='q1.gated']").click()

    expect(page.locator(".flash.ok")).to_contain_text("node q1.gated of run")
    expect(page.locator(".flash.ok")).to_contain_text("3 to go")
    wait_for(lambda: next(n.status for n in find_run(url, run.id).nodes if n.name == "q1.gated") == "succeeded", 20,
             "the replayed scan to succeed")
    assert find_run(url, run.id).status == "failed"

    page.goto(f"/runs/{run.key}")
    page.locator("#resume").click()

    expect(page.locator(".flash.ok")).to_contain_text("resumed")
    healed = wait_for(lambda: (r := find_run(url, run.id)) and r.status == "succeeded" and r, 40, "the run to finish")
    nodes = {n.name: n for n in healed.nodes}
    assert nodes["q1.gated"].attempts == 2 and nodes["q2.gated"].attempts == 2 and nodes["store"].attempts == 1
    page.goto(f"/runs/{run.key}")
    expect(page.locator("#node-q1\\.gated")).to_contain_text("last")  # two attempts: total time and the last one's
    expect(page.locator("#resume")).to_have_count(0)
    page.screenshot(path=str(artifacts / "console-run-healed.png"), full_page=True)
    done = _actions(url)
    assert ("run.resume", f"ok: run {run.key} resumed: what did not succeed runs again") in done
    assert any(action == "dlq.replay" and outcome.startswith("ok") for action, outcome in done)


def test_cancel_a_running_run_from_its_page(production: Cluster, page: Page) -> None:
    url = production.settings.database
    started = start(production.app, HANG_SYNC, {"date": date(2026, 5, 2)})
    wait_for(lambda: (r := find_run(url, started.run_id)) and r.status == "running", 20, "the run to start")

    page.goto(f"/runs/{started.key}")
    page.locator("#cancel").click()

    expect(page.locator(".flash.ok")).to_contain_text(f"run {started.key} cancelled: revoked")
    expect(page.locator("h1 .badge")).to_have_text("cancelled")
    release(production.settings, started.run_id)
    assert finished_run(url, started.run_id).status == "cancelled"
    assert any(action == "run.cancel" for action, _ in _actions(url))


def test_replay_with_edited_arguments_checks_them_first(production: Cluster, page: Page) -> None:
    url = production.settings.database
    with pytest.raises(Exception, match="no"):
        refuse.delay("no").get(timeout=20)
    [letter] = wait_for(lambda: dead_letters.find(url, skill="test.refuse"), 20, "the dead letter")

    page.goto(f"/dead-letters/{letter.id}")
    page.get_by_text("Edit the arguments and replay").click()
    page.locator("textarea[name=arguments]").fill(json.dumps({"args": [1, 2], "kwargs": {}}))
    page.locator("#replay-edited").click()

    expect(page.locator(".edit-replay .flash.error")).to_contain_text("invalid arguments: too many positional")
    assert dead_letters.get(url, letter.id).status == "dead"  # type: ignore[union-attr]

    page.locator("textarea[name=arguments]").fill(json.dumps({"args": ["edited"], "kwargs": {}}))
    page.locator("#replay-edited").click()

    expect(page.locator(".flash.ok")).to_contain_text("(with edited arguments)")
    expect(page.locator("#published + pre")).to_contain_text('"edited"')
    record = dead_letters.get(url, letter.id)
    assert record is not None and record.args == ["no"] and record.replay_arguments == {"args": ["edited"],
                                                                                         "kwargs": {}}
