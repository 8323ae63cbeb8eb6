"""Every console page from 390 px to 1920 px wide, in a real headless chromium: nothing runs off the page, every
table's columns can be seen (in place, or by scrolling the table's own box), a 20,000-character argument wraps
inside its card, and Replay can be reached and clicked on a phone. A full-page screenshot of each page at each
width goes to the test's tmp_path; those of a failing check are copied to test-artifacts/ and named in the
failure."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import delete

from organism.failures import dead_letters
from organism.gateway import ledger
from organism.gateway.models import LedgerEntry
from organism.gateway.prices import Price
from organism.gateway.provider import ChatResult, Usage
from organism.store import session
from organism.workflows.start import start
from tests.conftest import Cluster
from tests.support.letters import WINDOW, record_letter
from tests.support.noop import NOOP_SYNC
from tests.support.services import finished_run

pytestmark = pytest.mark.integration
WIDTHS = (390, 768, 1024, 1280, 1600, 1920)
LONG = "x" * 20_000

# Problems a page shows in the browser, as lines; empty when it lays out well.
OVERFLOW = """() => {
  const page = document.scrollingElement;
  return page.scrollWidth > innerWidth ? [`the page is ${page.scrollWidth} px wide in a ${innerWidth} px window`] : [];
}"""
HIDDEN_HEADERS = """() => {
  const bad = [];
  for (const th of document.querySelectorAll("th")) {
    if (th.closest("details:not([open])")) continue;
    th.scrollIntoView({block: "center", inline: "center"});
    const box = th.getBoundingClientRect();
    const hit = document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2);
    if (box.width < 1 || !hit || !th.contains(hit)) {
      const table = th.closest("table");
      bad.push(`column "${th.textContent.trim() || "(blank)"}" of table ${table.id || table.dataset.by || "?"} ` +
               `cannot be seen (${hit ? "under " + hit.tagName.toLowerCase() : "outside the window"})`);
    }
  }
  window.scrollTo(0, 0);
  return bad;
}"""
WIDE_CARDS = """() => [...document.querySelectorAll(".card")]
  .filter((card) => card.scrollWidth > card.clientWidth + 1)
  .map((card) => `card "${card.querySelector("h2")?.textContent || "?"}" holds ${card.scrollWidth} px in ` +
                 `${card.clientWidth} px`)"""


@pytest.fixture
def billed(production: Cluster) -> Iterator[None]:
    """Model calls of skills with long names in the ledger, so the Tokens tables are as wide as they get."""
    url, endpoint = production.settings.database, "http://127.0.0.1:3/v1"
    with session(url) as s:
        for seq, name in enumerate(("q1p0.pain_scanner", "q4.opportunity_synthesizer", "test.judge")):
            call = ledger.CallKey(uuid.uuid4().hex, 0, seq, name, "judgment", None, in_task=True)
            ledger.record(s, call, endpoint, ChatResult("{}", Usage(1_234_567, 345_678), "deepseek-chat-v3", 0.3),
                          Price(1.0, 2.0))
    yield
    with session(url) as s:
        s.execute(delete(LedgerEntry).where(LedgerEntry.endpoint == endpoint))


def test_every_page_fits_every_width_and_replay_is_reachable_on_a_phone(
        production: Cluster, billed: None, page: Page, tmp_path: Path, artifacts: Path) -> None:
    url = production.settings.database
    run = finished_run(url, start(production.app, NOOP_SYNC, {"date": "2026-04-02"}).run_id)
    for n in range(3):
        record_letter(url, run_id=run.id, node=f"q{n + 1}.scan")
    long_id = record_letter(url, args=[[LONG], WINDOW], run_id=run.id, node="q4.scan", error=f"bad source {LONG}")
    replay_id = record_letter(url, "test.gated_scan")
    pages = {"runs": "/runs", "run": f"/runs/{run.key}", "workflows": "/workflows", "dead-letters": "/dead-letters",
             "dead-letter": f"/dead-letters/{long_id}", "tokens": "/tokens", "cluster": "/cluster", "audit": "/audit"}

    problems: list[str] = []
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        for name, path in pages.items():
            page.goto(path)
            expect(page.locator("main h1")).to_be_visible()
            shot = tmp_path / f"{name}-{width}.png"
            page.screenshot(path=str(shot), full_page=True)
            found = page.evaluate(OVERFLOW) + page.evaluate(HIDDEN_HEADERS)
            if name == "dead-letter":
                found += page.evaluate(WIDE_CARDS)
            problems += [f"{path} at {width} px: {line} (screenshot {shot.name})" for line in found]
            if found:
                shutil.copy(shot, artifacts / f"layout-{shot.name}")
    assert not problems, "\n".join(problems) + f"\n(screenshots copied to {artifacts})"

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/dead-letters")
    replay = page.locator(f"button[data-replay='{replay_id}']")
    replay.scroll_into_view_if_needed()
    box = replay.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, f"Replay at {box} in 390 px"
    assert page.evaluate("([x, y]) => document.elementFromPoint(x, y)?.dataset.replay ?? null",
                         [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2]) == str(replay_id)
    replay.click()
    expect(page.locator(".flash.ok")).to_contain_text(str(replay_id))
    page.screenshot(path=str(tmp_path / "replayed-390.png"), full_page=True)
    assert dead_letters.get(url, replay_id).status == "replayed"  # type: ignore[union-attr]
