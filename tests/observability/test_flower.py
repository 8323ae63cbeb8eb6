"""`organism flower` against live workers: its REST API lists them and a run's tasks; every route that serves
data, `/metrics` included, refuses anonymous access; operators sign in with their console accounts and viewers
only read; nothing is pickled."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import requests
import tornado.web
from flower import urls
from playwright.sync_api import Browser, expect

from organism import store
from organism.workflows.start import start
from tests.conftest import Cluster
from tests.observability.servers import AUTH, USER, VIEWER, VIEWER_AUTH, accounts, serving
from tests.support.noop import NOOP_SYNC, where
from tests.support.services import ROOT, finished_run, wait_for

pytestmark = pytest.mark.integration


def test_flower_lists_the_workers_and_the_tasks_of_a_run_and_refuses_anonymous_access(
        production: Cluster, tmp_path: Path) -> None:
    with serving("flower", accounts(production.env), tmp_path / "flower.log") as flower:
        for path in ("/api/workers", "/api/tasks", "/", "/metrics"):
            assert _refused("get", flower.get(path, allow_redirects=False)), path
        assert flower.get("/api/workers", auth=(AUTH[0], "wrong-password")).status_code == 401
        assert flower.get("/metrics", auth=(AUTH[0], "wrong-password")).status_code == 401

        workers = wait_for(lambda: (found := flower.get("/api/workers", params={"refresh": 1}, auth=AUTH).json())
                           and len(found) >= 4 and found, 20, "Flower to list the four organ workers")
        assert {name.split("@")[0] for name in workers} >= {"perception", "judgment", "relationship", "evolution"}

        def seen(task_id: str) -> bool:
            return task_id in flower.get("/api/tasks", auth=AUTH).json()

        def probe() -> bool:
            sent = [task.delay() for task in where.values()]
            for call in sent:
                call.get(timeout=10)
            return all(seen(call.id) for call in sent)

        # Flower sees only events sent after it subscribed, and a worker sends task events only once a monitor has
        # asked it (Flower does every few seconds; a worker restarted by an earlier test has not been asked yet):
        # wait until a probe task on every organ shows up.
        wait_for(probe, 30, "every organ's worker to send Flower task events", interval_s=1)
        started = start(production.app, NOOP_SYNC, {"date": "2026-03-03"})
        run = finished_run(production.settings.database, started.run_id)
        assert run.status == "succeeded", run.error
        wait_for(lambda: all(seen(node.task_id) for node in run.nodes), 20, "Flower to list the run's eight tasks")
        task = flower.get(f"/api/task/info/{run.nodes[0].task_id}", auth=AUTH).json()
        assert task["state"] == "SUCCESS" and task["name"] == run.nodes[0].skill
        metrics = flower.get("/metrics", auth=AUTH)
        assert metrics.status_code == 200 and f'task="{run.nodes[0].skill}"' in metrics.text
    # Flower's persistent mode would keep its state as a pickle (flower.db): it stays off. What Flower keeps is
    # the task events it received, as JSON lines (test_flower_pages.py).
    assert not list(production.settings.data_dir.rglob("flower.db*")) and not list(ROOT.glob("flower*"))


def _refused(method: str, answer: requests.Response) -> bool:
    """An anonymous request turned away: a page or API read is sent to the log-in form, anything else forbidden."""
    if method == "get":
        return answer.status_code == 302 and answer.headers["Location"].startswith("/login?next=")
    return answer.status_code == 403


# Routes that serve no data: the probe (answers "OK"), Flower's own JavaScript and CSS, the log-in form and
# logged-out pages, and the catch-all 404.
OPEN_ROUTES = {"/healthcheck", "/static/(.*)", "/login/?", "/logout", ".*"}


def _routes() -> list[tuple[str, str, list[str]]]:
    """(pattern, a path it matches, the methods its handler implements) for every route of Flower."""
    found = []
    for handler in urls.handlers:
        pattern, cls = (handler.regex.pattern.rstrip("$"), handler.handler_class) \
            if isinstance(handler, tornado.web.URLSpec) else handler[:2]
        methods = [m for m in ("get", "post") if getattr(cls, m) is not getattr(tornado.web.RequestHandler, m)]
        found.append((pattern, re.sub(r"\(\.[*+]\)", "x", pattern), methods))
    return found


def test_every_flower_route_that_serves_data_refuses_anonymous_access(production: Cluster, tmp_path: Path) -> None:
    routes = [route for route in _routes() if route[0] not in OPEN_ROUTES]
    assert len(routes) >= 25 and "/metrics" in {pattern for pattern, _, _ in routes}
    assert all(methods for _, _, methods in routes), "a route whose methods the test cannot see"

    with serving("flower", accounts(production.env), tmp_path / "flower.log", probe="/healthcheck") as flower:
        answers = {(method, path): flower.get(path, allow_redirects=False) if method == "get" else flower.post(path)
                   for _, path, methods in routes for method in methods}
        assert flower.get("/healthcheck").text == "OK"

    assert {key: answer.status_code for key, answer in answers.items() if not _refused(key[0], answer)} == {}


def test_an_operator_signs_in_to_flower_with_the_console_account_and_a_viewer_only_reads(
        production: Cluster, browser: Browser, tmp_path: Path) -> None:
    context = browser.new_context()
    page = context.new_page()
    with serving("flower", accounts(production.env), tmp_path / "flower.log", probe="/healthcheck") as flower:
        try:
            page.goto(flower.url + "/workers")
            expect(page).to_have_url(re.compile(r"/login\?next=%2Fworkers$"))
            page.fill("#login input[name=name]", USER)
            page.fill("#login input[name=password]", "not-the-password")
            page.click("#login button[type=submit]")
            expect(page.locator("#login-error")).to_have_text("wrong name or password")
            page.fill("#login input[name=password]", AUTH[1])
            page.click("#login button[type=submit]")
            expect(page).to_have_url(flower.url + "/workers")
            expect(page.locator(f"a[aria-label='Log out {USER}']")).to_have_count(1)
            page.goto(flower.url + "/logout")
            expect(page.locator("body")).to_contain_text("You have been logged out")
            page.goto(flower.url + "/workers")
            expect(page).to_have_url(re.compile(r"/login\?next=%2Fworkers$"))
        finally:
            context.close()
        revoke = "/api/task/revoke/00000000-0000-0000-0000-000000000000"
        as_viewer, as_operator = flower.post(revoke, auth=VIEWER_AUTH), flower.post(revoke, auth=AUTH)
        read = flower.get("/api/workers", auth=VIEWER_AUTH)

    assert as_viewer.status_code == 403 and f"{VIEWER} is a viewer" in as_viewer.text
    assert as_operator.status_code == 200 and read.status_code == 200
    log = (tmp_path / "flower.log").read_text()
    assert f"failed log-in as '{USER}' from 127.0.0.1: wrong password" in log and "not-the-password" not in log


def test_flower_without_any_account_lets_no_one_in_and_says_how_to_make_one(production: Cluster,
                                                                           tmp_path: Path) -> None:
    empty = f"sqlite:///{tmp_path / 'no-accounts.sqlite'}"
    store.migrate(empty)
    env = production.env | {"ORGANISM_DATABASE_URL": empty}

    with serving("flower", env, tmp_path / "flower.log", probe="/healthcheck") as flower:
        page = flower.get("/", allow_redirects=False)
        script = flower.get("/api/workers", auth=AUTH)

    assert _refused("get", page) and script.status_code == 401
    assert "flower: no operator account yet, so no one can sign in: `organism operators add NAME --role operator`" \
        in (tmp_path / "flower.log").read_text()
