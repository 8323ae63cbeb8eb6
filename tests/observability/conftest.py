"""Fixtures of the observability tests: Debian's chromium driven by Playwright, and the console it looks at."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.conftest import Cluster
from tests.observability.servers import Server, accounts, serving, sign_in

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
FLOWER_URL = "http://127.0.0.1:5555"


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """A headless Debian chromium; the tests fail (never skip) without it."""
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is missing: the console tests need Debian's chromium "
                    "(apt-get install -y chromium; .ci/run installs it)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def console(production: Cluster, tmp_path: Path) -> Iterator[Server]:
    env = accounts(production.env) | {"ORGANISM_OBSERVABILITY__FLOWER_URL": FLOWER_URL}
    with serving("console", env, tmp_path / "console.log", probe="/healthz") as server:
        yield server


@pytest.fixture
def page(browser: Browser, console: Server) -> Iterator[Page]:
    """A page of a browser context signed in to the console as the tests' operator (servers.USER)."""
    context = browser.new_context(viewport={"width": 1280, "height": 860}, base_url=console.url)
    signed_in = context.new_page()
    sign_in(signed_in)
    yield signed_in
    context.close()
