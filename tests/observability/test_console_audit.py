"""The console's actions in the audit trail (who signed in, from where, what, the outcome), and its Audit page: the
entries newest first, filtered, the chain's check as a badge that names an edited entry, readable on a phone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import delete, text

from organism.audit.read import Filters, entries
from organism.store import session
from organism.store.db import engine_for
from organism.store.models import AuditEntry
from tests.conftest import Cluster
from tests.observability.servers import USER, Server, console_session
from tests.observability.test_console_layout import HIDDEN_HEADERS, OVERFLOW
from tests.support.letters import WINDOW, record_letter
from tests.support.noop import NOOP_SYNC

pytestmark = pytest.mark.integration


def test_console_actions_are_recorded_and_the_audit_page_shows_and_checks_them(
        production: Cluster, console: Server, page: Page, artifacts: Path) -> None:
    url = production.settings.database
    with session(url) as s:
        s.execute(delete(AuditEntry))
    purged, replayed = record_letter(url), record_letter(url, args=[["password=hunter2"], WINDOW])
    browser, token = console_session(console)
    for path, data in (("/dead-letters/purge", {"id": purged}),
                       ("/dead-letters/replay", {"id": replayed, "force": "1"}),
                       (f"/workflows/{NOOP_SYNC}/runs", {"date": "2026-04-05"})):
        answer = browser.post(console.url + path, data={"csrf_token": token, **data}, allow_redirects=False)
        assert answer.status_code == 302, f"{path}: {answer.status_code} {answer.text[:300]}"

    purge, replay, start = reversed(entries(url, Filters(), 10))
    assert {(e.who, e.source) for e in (purge, replay, start)} == {(USER, "127.0.0.1")}
    assert (purge.action, purge.target, purge.detail, purge.outcome) == (
        "dlq.purge", f"dead-letters {purged}", {"ids": [purged]}, "ok: purged 1")
    assert (replay.action, replay.target) == ("dlq.replay", f"dead-letter {replayed}")
    assert replay.outcome.startswith(f"ok: dead letter {replayed} replayed as task ")
    assert replay.detail["arguments"] == {"args": [["password=***"], WINDOW], "kwargs": {}} and replay.detail["force"]
    assert (start.action, start.target, start.detail) == ("workflow.start", NOOP_SYNC, {"params": {
        "date": "2026-04-05"}})
    assert start.outcome.startswith(f"ok: started run {NOOP_SYNC}:2026-04-05 (")
    assert "hunter2" not in json.dumps([e.detail for e in (purge, replay, start)])

    page.goto("/audit")
    page.screenshot(path=str(artifacts / "console-audit.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    expect(page.locator("#audit-check")).to_have_text("intact · 3 entries")
    expect(page.locator("#audit tbody tr").first).to_have_attribute("data-entry", "3")  # newest first
    expect(page.locator("#audit tr[data-entry='2']")).to_contain_text("dlq.replay")
    page.screenshot(path=str(artifacts / "console-audit-390.png"), full_page=True)
    assert page.evaluate(OVERFLOW) + page.evaluate(HIDDEN_HEADERS) == []

    page.goto("/audit?action=dlq.purge")
    expect(page.locator("#audit tbody tr")).to_have_count(1)
    expect(page.locator("#audit tbody tr")).to_have_attribute("data-entry", "1")
    page.goto("/audit?since=2100-01-01")
    expect(page.locator("#no-entries")).to_have_text("No entries match these filters.")
    assert page.goto("/audit?since=soon").status == 400  # type: ignore[union-attr]

    with engine_for(url).begin() as connection:
        connection.execute(text("UPDATE organism_audit SET who = 'mallory' WHERE id = 2"))
    page.goto("/audit")
    expect(page.locator("#audit-check")).to_have_text("broken at entry 2")
    expect(page.locator("#audit-broken")).to_contain_text("entry 2: hash does not match its fields (edited?)")
    expect(page.locator("#audit tr[data-entry='2']")).to_have_class("highlight")
    page.screenshot(path=str(artifacts / "console-audit-broken-390.png"), full_page=True)
