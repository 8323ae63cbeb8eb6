"""What goes wrong in the console is a page in its style saying what is wrong and what to do, as ``/readyz``
says it: bad addresses and values (400, 404, 405), and the broker or the store really down (503), each seen in a
real headless chromium; a screenshot of each goes to the test's tmp_path."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from organism.failures import dead_letters
from tests.conftest import Cluster
from tests.observability.servers import accounts, serving, sign_in
from tests.support.letters import record_letter

pytestmark = pytest.mark.integration
DEAD_BROKER = "amqp://guest:guest@127.0.0.1:1//"  # nothing listens on port 1
DEAD_STORE = "postgresql+psycopg://postgres@127.0.0.1:1/organism_test"


def _error(page: Page, path: str, status: int, problem: str, fix: str) -> None:
    answer = page.goto(path)
    assert answer is not None and answer.status == status, f"{path}: {answer.status if answer else None}"
    expect(page.locator("header.top")).to_be_visible()  # the console's own page, not a bare error
    expect(page.locator("#error-problem")).to_have_text(problem)
    expect(page.locator("#error-fix")).to_contain_text(fix)


def test_bad_addresses_and_values_are_named_on_a_page_of_the_console(page: Page, tmp_path: Path) -> None:
    _error(page, "/dead-letters?status=bogus", 400, "status: 'bogus' is not one of dead, replayed, purged, any",
           "correct it in the address or the form")
    page.screenshot(path=str(tmp_path / "bad-status.png"), full_page=True)
    _error(page, "/dead-letters?page=0", 400, "page: '0' is not a page number (1, 2, 3, … up to 1000000)",
           "correct it")
    _error(page, "/dead-letters?since=yesterday", 400,
           "since: 'yesterday' is not a date or time like 2026-11-23 or 2026-11-23T06:00", "correct it")
    _error(page, "/runs/no-such-run", 404, "no run 'no-such-run'", "check the address")
    _error(page, "/nowhere", 404, "there is no such page", "check the address")
    _error(page, "/dead-letters/replay", 405, "this page does not take GET", "use the page's own links")
    assert "POST" in (page.request.get("/dead-letters/replay").headers.get("allow") or "")


@pytest.fixture
def broken(production: Cluster, browser: Browser, tmp_path: Path,
           request: pytest.FixtureRequest) -> Iterator[Page]:
    """A page of a console whose broker or store (``request.param``) is at a port where nothing listens."""
    env = accounts(production.env) | request.param
    with serving("console", env, tmp_path / "console.log", probe="/healthz") as server:
        context = browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 860})
        yield context.new_page()
        context.close()


@pytest.mark.parametrize("broken", [{"ORGANISM_BROKER_URL": DEAD_BROKER}], indirect=True)
def test_with_the_broker_down_cluster_and_replay_say_so(production: Cluster, broken: Page, tmp_path: Path) -> None:
    letter = record_letter(production.settings.database, "test.gated_scan")
    sign_in(broken)

    _error(broken, "/cluster", 503, "the broker at amqp://guest:***@127.0.0.1:1// is unreachable "
                                    "([Errno 111] Connection refused)", "start RabbitMQ")
    broken.screenshot(path=str(tmp_path / "cluster-broker-down.png"), full_page=True)
    broken.goto("/dead-letters")
    broken.locator(f"button[data-replay='{letter}']").click()
    expect(broken.locator("header.top")).to_be_visible()
    expect(broken.locator("main")).to_contain_text("broker")
    broken.screenshot(path=str(tmp_path / "replay-broker-down.png"), full_page=True)
    assert dead_letters.get(production.settings.database, letter).status == "dead"  # type: ignore[union-attr]


@pytest.mark.parametrize("broken", [{"ORGANISM_DATABASE_URL": DEAD_STORE}], indirect=True)
def test_with_the_store_down_signing_in_says_so(broken: Page, tmp_path: Path) -> None:
    broken.goto("/login")
    broken.fill("#login input[name=name]", "operator")
    broken.fill("#login input[name=password]", "any")
    broken.click("#login button[type=submit]")

    expect(broken.locator("#error-problem")).to_contain_text(
        "the store at postgresql+psycopg://postgres@127.0.0.1:1/organism_test is unreachable")
    expect(broken.locator("#error-fix")).to_contain_text("start PostgreSQL")
    assert broken.locator("#error").get_attribute("data-status") == "503"
    broken.screenshot(path=str(tmp_path / "login-store-down.png"), full_page=True)
