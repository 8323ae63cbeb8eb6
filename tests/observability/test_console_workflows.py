"""Starting a workflow from the console, in a real headless chromium: the form lists each workflow's parameters
and schedules, starts a run that the workers carry out, and refuses a wrong parameter in one line before anything
is written; the pages fit a 390 px wide phone."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from organism.store import session
from organism.store.models import Run
from tests.conftest import Cluster
from tests.observability.servers import USER, Server, sign_in
from tests.support.noop import NOOP_SYNC

pytestmark = pytest.mark.integration

RUN_FINISHES_MS = 60_000  # a deadline for the run page (it reloads itself while the run is open)


def _runs(production: Cluster) -> list[Run]:
    with session(production.settings.database) as s:
        return list(s.scalars(select(Run).where(Run.workflow == NOOP_SYNC)))


def _start(page: Page, **params: str) -> int:
    """Fill the noop-sync form with ``params``, send it, and return the answer's HTTP status."""
    form = page.locator(f"#workflow-{NOOP_SYNC}")
    for name, value in params.items():
        form.locator(f"input[name={name}]").fill(value)
    with page.expect_response(lambda answer: answer.request.method == "POST") as sent:
        form.locator(f"button[data-start={NOOP_SYNC}]").click()
    return sent.value.status


def test_a_run_started_from_the_form_succeeds_and_shows_its_parameters(production: Cluster, page: Page,
                                                                        artifacts: Path) -> None:
    page.goto("/runs")
    page.locator("#start-run").click()
    card = page.locator(f"#workflow-{NOOP_SYNC}")
    expect(card.locator("[data-param=date]")).to_contain_text("derived")
    expect(card.locator("[data-param=window_hours]")).to_contain_text("default 24")
    expect(card.locator("[data-param=history]")).to_contain_text("Windows before this one")
    expect(card.locator(".schedules")).to_contain_text("runs only when started")
    expect(page.locator("#workflow-daily-sync .schedules")).to_contain_text("in Asia/Shanghai: next")
    page.screenshot(path=str(artifacts / "console-workflows.png"), full_page=True)

    assert _start(page, date="2026-04-02", window_hours="48") == 302

    expect(page).to_have_url(re.compile(rf"/runs/{NOOP_SYNC}(:|%3A)2026-04-02$"))
    expect(page.locator("h1 .badge")).to_have_text("succeeded", timeout=RUN_FINISHES_MS)
    expect(page.locator("svg#dag a.node.succeeded")).to_have_count(8)
    params = page.locator("#params")
    expect(params.locator("[data-param=date]")).to_have_text("2026-04-02")
    expect(params.locator("[data-param=window_hours]")).to_have_text("48")
    expect(params.locator("[data-param=window_end]")).to_have_text("2026-04-02T06:00:00+08:00")
    expect(params.locator("[data-param=sources]")).to_contain_text("sample-posts.jsonl")
    expect(page.locator("#history")).to_contain_text(f"console ({USER})")
    page.screenshot(path=str(artifacts / "console-run-started.png"), full_page=True)

    [run] = _runs(production)
    assert (run.key, run.status, run.params["window_hours"]) == (f"{NOOP_SYNC}:2026-04-02", "succeeded", 48)
    assert [(event["event"], event["detail"]) for event in run.history] == [("started", f"console ({USER})")]


@pytest.mark.parametrize(("params", "named"), [
    ({"date": "2026-13-01"}, "parameter date: Input should be a valid date or datetime, month value is outside"),
    ({"date": "2026-04-03", "window_hours": "0"}, "parameter window_hours: Input should be greater than or equal to 1"),
])
def test_a_wrong_parameter_is_refused_in_one_line_and_starts_nothing(production: Cluster, page: Page,
                                                                     params: dict[str, str], named: str) -> None:
    page.goto(f"/workflows/{NOOP_SYNC}")

    status = _start(page, **params)

    assert status == 400
    error = page.locator("#start-error")
    expect(error).to_contain_text(f"workflow {NOOP_SYNC}: {named}")
    assert error.inner_text().count("parameter ") == 1 and "\n" not in error.inner_text()
    for name, value in params.items():  # the form comes back as it was sent, to correct
        expect(page.locator(f"#workflow-{NOOP_SYNC} input[name={name}]")).to_have_value(value)
    assert _runs(production) == []


def test_an_unknown_workflow_is_a_404_naming_the_known_ones(production: Cluster, page: Page) -> None:
    answer = page.goto("/workflows/nope")

    assert answer is not None and answer.status == 404
    expect(page.locator("body")).to_contain_text("unknown workflow 'nope'; known workflows: ")
    for known in ("daily-sync", NOOP_SYNC):
        expect(page.locator("body")).to_contain_text(known)


def test_the_start_form_and_the_run_page_fit_a_phone(production: Cluster, browser: Browser, console: Server,
                                                     artifacts: Path) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, base_url=console.url)
    phone = context.new_page()
    try:
        sign_in(phone)
        phone.goto(f"/workflows/{NOOP_SYNC}")
        assert _start(phone, date="2026-04-04") == 302
        expect(phone.locator("h1 .badge")).to_have_text("succeeded", timeout=RUN_FINISHES_MS)
        for name, path in (("run", f"/runs/{NOOP_SYNC}:2026-04-04"), ("runs", "/runs"), ("workflows", "/workflows")):
            phone.goto(path)
            phone.screenshot(path=str(artifacts / f"console-{name}-390.png"), full_page=True)
            width = phone.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, f"{path} is {width} px wide on a 390 px screen"
    finally:
        context.close()
