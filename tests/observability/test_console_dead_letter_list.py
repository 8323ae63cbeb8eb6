"""The dead-letter list in a real headless chromium: newest first, filtered by run (id or key), skill, status and
time (in the zone the operator chose), counted, a page of 25 at a time, and linked to and from its runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect

from organism.failures import dead_letters
from organism.workflows.start import start
from tests.conftest import Cluster
from tests.support.letters import record_letter
from tests.support.noop import NOOP_SYNC
from tests.support.services import finished_run

pytestmark = pytest.mark.integration
FIRST = datetime(2026, 4, 3, 0, 0, tzinfo=UTC)  # 08:00 in Asia/Shanghai, the tests' configured zone


def _shown(page: Page) -> list[int]:
    return [int(row.get_attribute("data-letter") or 0) for row in page.locator("#letters tbody tr").all()]


def test_newest_first_filtered_counted_paged_and_linked_both_ways(production: Cluster, page: Page) -> None:
    url = production.settings.database
    assert production.settings.timezone == "Asia/Shanghai"
    run = finished_run(url, start(production.app, NOOP_SYNC, {"date": "2026-04-03"}).run_id)
    of_run = [record_letter(url, run_id=run.id, node=f"q{n % 4 + 1}.scan", at=FIRST + timedelta(minutes=n))
              for n in range(30)]
    alone = [record_letter(url, "test.gated_scan", at=FIRST + timedelta(days=1, minutes=n)) for n in range(2)]
    newest_first = alone[::-1] + of_run[::-1]

    page.goto("/dead-letters")
    expect(page.locator("#letters-count")).to_contain_text("32 dead letters, 1–25")
    assert _shown(page) == newest_first[:25]
    page.get_by_role("link", name="older →").click()
    expect(page.locator("#letters-count")).to_contain_text("32 dead letters, 26–32")
    assert _shown(page) == newest_first[25:]
    expect(page.locator("#letter-pages")).to_contain_text("page 2 of 2")

    page.fill("#letter-filters input[name=run]", run.key)
    page.click("#letter-filters button")
    expect(page.locator("#letters-count")).to_contain_text("30 dead letters, 1–25")
    links = page.locator("#letters td a[data-run]")
    expect(links).to_have_count(25)
    assert {link.inner_text() for link in links.all()} == {run.key}
    page.goto(f"/dead-letters?run={run.id}&page=2")
    assert _shown(page) == of_run[4::-1]
    page.goto("/dead-letters?skill=test.gated_scan")
    assert _shown(page) == alone[::-1]

    # Times without a zone are in the configured zone: 08:10 to 08:20 in Shanghai is 00:10 to 00:20 UTC.
    page.goto("/dead-letters?since=2026-04-03T08:10&until=2026-04-03T08:20")
    assert _shown(page) == of_run[19:9:-1]
    page.goto("/dead-letters?until=2026-04-03")  # a date alone takes in the whole of that day
    expect(page.locator("#letters-count")).to_contain_text("30 dead letters")
    page.goto("/dead-letters?since=2026-04-03T00:10%2B00:00&until=2026-04-03T00:12Z")  # a zone of its own
    assert _shown(page) == of_run[11:9:-1]

    dead_letters.purge(url, [of_run[0]])
    page.goto("/dead-letters?status=purged")
    assert _shown(page) == [of_run[0]]
    page.goto("/dead-letters?status=any&page=2")
    expect(page.locator("#letters-count")).to_contain_text("32 dead letters, 26–32")
    expect(page.locator(f"tr[data-letter='{of_run[0]}'] .badge.purged")).to_have_text("purged")

    page.goto(f"/runs/{run.key}")
    expect(page.locator("#run-dead-letters")).to_have_text("30 dead letters · 29 not replayed")
    page.get_by_role("link", name="30 dead letters").click()
    expect(page.locator("#letters-count")).to_contain_text("30 dead letters, 1–25")
    expect(page.locator("#letter-filters select[name=status]")).to_have_value("any")
    page.locator(f"tr[data-letter='{of_run[29]}'] a[data-run]").click()
    expect(page.locator("h1")).to_contain_text(run.key)

    page.goto("/dead-letters?page=9")
    expect(page.locator("#no-letters")).to_contain_text("No dead letters on page 9: the list has 2 pages")
