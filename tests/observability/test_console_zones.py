"""Times in the console carry their zone, the configured one (ORGANISM_TIMEZONE) until the operator picks another
in the header; the Tokens page counts its days in the zone picked and says which."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from organism.gateway.ledger import day_start, ledger_totals
from tests.conftest import Cluster
from tests.support.letters import record_letter

pytestmark = pytest.mark.integration
WRITTEN = datetime(2026, 4, 3, 22, 5, tzinfo=UTC)


def _pick(page: Page, zone: str) -> None:
    page.fill("#zone-picker input[name=zone]", zone)
    with page.expect_navigation():
        page.click("#zone-picker button")


def _written(page: Page, letter: int) -> tuple[str, str | None]:
    time = page.locator(f"tr[data-letter='{letter}'] time")
    return time.inner_text(), time.get_attribute("datetime")


def test_times_show_their_zone_and_follow_the_operators_pick(production: Cluster, page: Page) -> None:
    url = production.settings.database
    letter = record_letter(url, at=WRITTEN)

    page.goto("/dead-letters")
    assert _written(page, letter) == ("2026-04-04 06:05:00 CST", "2026-04-04T06:05:00+08:00")
    expect(page.locator("#zone-picker input[name=zone]")).to_have_value("Asia/Shanghai")

    _pick(page, "UTC")
    assert page.url.endswith("/dead-letters")  # back where the pick was made
    assert _written(page, letter) == ("2026-04-03 22:05:00 UTC", "2026-04-03T22:05:00+00:00")
    _pick(page, "America/New_York")
    assert _written(page, letter) == ("2026-04-03 18:05:00 EDT", "2026-04-03T18:05:00-04:00")
    _pick(page, "Asia/Dubai")  # a zone with no abbreviation of its own shows its offset
    assert _written(page, letter) == ("2026-04-04 02:05:00 +04:00", "2026-04-04T02:05:00+04:00")
    page.goto(f"/dead-letters/{letter}")
    expect(page.locator("dl.facts time")).to_have_text("2026-04-04 02:05:00 +04:00")

    # The two zones farthest apart: their todays are always different days.
    for zone in ("Pacific/Kiritimati", "Pacific/Pago_Pago"):
        page.goto("/tokens")
        _pick(page, zone)
        expect(page.locator("#tokens-zone")).to_contain_text(f"Days are counted in {zone}")
        today = datetime.now(ZoneInfo(zone)).date()
        spent = sum(t.cost_usd for t in ledger_totals(url, day_start(today, ZoneInfo(zone))))
        assert float(page.locator("#total-1 .big").get_attribute("data-usd") or "nan") == pytest.approx(spent)
        expect(page.locator("svg.chart text.label").last).to_have_text(f"{today:%m-%d}")

    page.goto("/runs")
    _pick(page, "Mars/Olympus_Mons")
    expect(page.locator("#error-problem")).to_have_text(
        "zone: 'Mars/Olympus_Mons' is not a time zone; give an IANA name such as Asia/Shanghai or UTC")
    assert page.locator("#error").get_attribute("data-status") == "400"
    page.goto("/runs")
    expect(page.locator("#zone-picker input[name=zone]")).to_have_value("Pacific/Pago_Pago")
