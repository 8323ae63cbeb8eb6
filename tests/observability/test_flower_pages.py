"""Flower in a real headless chromium, as `organism flower` runs it against live workers: its workers, tasks and
broker pages, with times in the configured zone; a call that was running before Flower started, shown with its
name; what it saw, still there after a restart; and the console's links to Flower's task page. A screenshot of
each page goes to test-artifacts/."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import redis
import requests
from playwright.sync_api import Browser, Page, expect

from organism.errors import PermanentError
from organism.failures import dead_letters
from organism.observability.flower_events import log_path
from organism.workflows.start import start
from tests.conftest import Cluster
from tests.observability.servers import AUTH, Server, accounts, basic, serving
from tests.support.letters import WINDOW
from tests.support.noop import GATE, NOOP_SYNC, echo, gated_scan, held
from tests.support.services import finished_run, wait_for

pytestmark = pytest.mark.integration
ZONE = "Asia/Kathmandu"  # +05:45: neither UTC nor this machine's zone shows the same clock
ORGANS = ("perception", "judgment", "relationship", "evolution")
MANAGEMENT_API = "http://127.0.0.1:15672/api/overview"
DAY = {"date": "2026-03-03"}


def _shot(page: Page, artifacts: Path, name: str) -> None:
    page.screenshot(path=str(artifacts / f"flower-{name}.png"), full_page=True)


def _info(flower: Server, task_id: str) -> dict[str, Any] | None:
    found = flower.get(f"/api/task/info/{task_id}", auth=AUTH)
    return found.json() if found.status_code == 200 else None


def _succeeded(flower: Server, task_id: str, name: str) -> dict[str, Any]:
    """Flower's record of a task, once it knows it succeeded."""
    return wait_for(lambda: (found := _info(flower, task_id)) and found.get("state") == "SUCCESS" and found, 30,
                    f"Flower to see {name} {task_id} succeed")


def _listening(flower: Server) -> None:
    """Wait until Flower receives task events: it sees only those sent after it subscribed."""
    def probe() -> bool:
        sent = echo.delay(1)
        sent.get(timeout=10)
        return _info(flower, sent.id) is not None

    wait_for(probe, 30, "Flower to receive task events", interval_s=1)


def _running(cluster: Cluster, task_id: str) -> bool:
    active = cluster.app.control.inspect(timeout=1).active() or {}
    return any(task["id"] == task_id for tasks in active.values() for task in tasks)


def _clock(at: float, zone: str = ZONE) -> str:
    return f"{datetime.fromtimestamp(at, ZoneInfo(zone)):%Y-%m-%d %H:%M:%S}"


@contextmanager
def _browsing(browser: Browser, base_url: str) -> Iterator[Page]:
    """A page whose requests carry the tests' operator's basic credentials, which Flower and the console take."""
    context = browser.new_context(extra_http_headers={"Authorization": basic()}, base_url=base_url,
                                  viewport={"width": 1400, "height": 900})
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def management_api() -> None:
    try:
        answer = requests.get(MANAGEMENT_API, auth=("guest", "guest"), timeout=5)
    except requests.ConnectionError:
        answer = None
    if answer is None or answer.status_code != 200:
        pytest.fail(f"RabbitMQ's management API does not answer at {MANAGEMENT_API}: scripts/services enables "
                    "it (rabbitmq-plugins enable rabbitmq_management)")


def test_flower_shows_workers_tasks_and_queues_in_the_configured_zone_and_remembers_them(
        production: Cluster, browser: Browser, artifacts: Path, tmp_path: Path, management_api: None) -> None:
    env = accounts(production.env) | {"ORGANISM_TIMEZONE": ZONE}
    gate = tmp_path / "gate"
    before = held.delay(str(gate))  # running before Flower starts: Flower never hears it was received
    try:
        wait_for(lambda: _running(production, before.id), 30, "the held call to start on the judgment worker")
        with serving("flower", env, tmp_path / "flower.log", probe="/healthcheck") as flower, \
                _browsing(browser, flower.url) as page:
            _listening(flower)
            queued = [held.delay(str(gate)) for _ in range(3)]  # wait on the judgment queue behind it

            def judgment_waiting() -> bool:  # RabbitMQ refreshes the counts it serves every few seconds
                page.goto("/broker")
                count = page.locator("#queue-table tr#judgment td").nth(1).inner_text().strip()
                return count.isdigit() and int(count) >= 3

            wait_for(judgment_waiting, 30, "the Broker page to count the judgment queue's messages", interval_s=1)
            rows = page.locator("#queue-table tbody tr")
            assert {rows.nth(i).get_attribute("id") for i in range(rows.count())} >= set(ORGANS)
            expect(page.locator("#queue-table tr#perception td").nth(4)).to_have_text("1")  # its consumer
            _shot(page, artifacts, "broker")

            gate.touch()
            assert [call.get(timeout=60) for call in (before, *queued)] == [{"released": True}] * 4
            record = _succeeded(flower, before.id, "the held call")
            assert record["name"] == "test.held" and record["received"] is None  # named by its later events

            def all_organs_listed() -> bool:
                page.goto("/workers")
                expect(page.locator("#workers-table_info")).to_contain_text(" workers")  # its rows, loaded
                names = page.locator("#workers-table tbody td:first-child").all_text_contents()
                return {name.strip().split("@")[0] for name in names} >= set(ORGANS)

            wait_for(all_organs_listed, 30, "the Workers page to list the four organ workers", interval_s=1)
            _shot(page, artifacts, "workers")

            page.goto("/tasks?name=test.held")
            expect(page.locator(f"#tasks-table tr[id='{before.id}'] td").first).to_have_text("test.held")
            expect(page.locator("#tasks-table thead th[data-column=received]").first).to_have_text(
                f"Received ({ZONE})")
            queued_record = _succeeded(flower, queued[0].id, "a queued held call")
            received = page.locator(f"#tasks-table tr[id='{queued[0].id}'] td").nth(3)
            expect(received).to_contain_text(_clock(queued_record["received"]))
            _shot(page, artifacts, "tasks")

            page.goto(f"/task/{before.id}")
            expect(page.locator(".task-name-value")).to_have_text("test.held")
            succeeded = page.locator("dt:text-is('Succeeded') + dd")
            expect(succeeded).to_contain_text(f"{_clock(record['succeeded'])}.")
            expect(succeeded).to_contain_text("+0545")
            _shot(page, artifacts, "task")
    finally:
        gate.touch()  # never leave the judgment worker held
    started = (tmp_path / "flower.log").read_text()
    assert "management API at http://guest:***@127.0.0.1:15672/api/" in started and "guest:guest" not in started

    # Restarted, Flower knows what it saw before, from the JSON lines in the data directory (no pickle).
    with serving("flower", env, tmp_path / "flower-again.log", probe="/healthcheck") as flower, \
            _browsing(browser, flower.url) as page:
        again = _info(flower, before.id)
        assert again is not None and (again["name"], again["state"]) == ("test.held", "SUCCESS")
        page.goto("/tasks?name=test.held")
        for call in (before, *queued):
            expect(page.locator(f"#tasks-table tr[id='{call.id}'] td").first).to_have_text("test.held")
    kept = log_path(production.settings.data_dir)
    assert any(json.loads(line)["uuid"] == before.id for line in kept.read_text().splitlines())
    assert not list(production.settings.data_dir.rglob("flower.db*"))


def test_the_console_links_to_flowers_task_page(production: Cluster, browser: Browser, tmp_path: Path) -> None:
    env = accounts(production.env)
    redis.Redis.from_url(GATE).delete("gate")  # closed: test.gated_scan fails, and its call is dead-lettered
    with serving("flower", env, tmp_path / "flower.log", probe="/healthcheck") as flower:
        _listening(flower)
        run = finished_run(production.settings.database, start(production.app, NOOP_SYNC, DAY).run_id)
        assert run.status == "succeeded", run.error
        failed = gated_scan.delay(["feed"], WINDOW)
        with pytest.raises(PermanentError):
            failed.get(timeout=30)
        letter = wait_for(lambda: next((found for found in dead_letters.find(production.settings.database, status=None,
                                                                             skill="test.gated_scan")
                                        if found.task_id == failed.id), None), 30, "the failed call's dead letter")
        wait_for(lambda: (_info(flower, failed.id) or {}).get("state") == "FAILURE", 30, "Flower to see it fail")
        node = run.nodes[0]
        _succeeded(flower, node.task_id, node.skill)

        console_env = env | {"ORGANISM_OBSERVABILITY__FLOWER_URL": flower.url}
        with serving("console", console_env, tmp_path / "console.log", probe="/healthz") as console, \
                _browsing(browser, console.url) as page:
            page.goto(f"/runs/{run.id}")
            link = page.locator(f"a[href='{flower.url}/task/{node.task_id}']")
            expect(link).to_have_text("Flower ↗")
            page.goto(link.get_attribute("href") or "")
            expect(page.locator(".task-name-value")).to_have_text(node.skill)

            page.goto(console.url + f"/dead-letters/{letter.id}")
            link = page.locator(f"a[href='{flower.url}/task/{letter.task_id}']")
            expect(link).to_have_text("Flower ↗")
            page.goto(link.get_attribute("href") or "")
            expect(page.locator(".task-name-value")).to_have_text("test.gated_scan")

