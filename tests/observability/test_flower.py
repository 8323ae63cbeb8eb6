"""`organism flower` against live workers: its REST API lists them and a run's tasks; every route that serves
data, `/metrics` included, refuses anonymous access; nothing is kept on disk."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import tornado.web
from flower import urls

from organism.workflows.start import start
from tests.conftest import Cluster
from tests.observability.servers import AUTH, OPERATOR_ENV, serving
from tests.support.noop import NOOP_SYNC, echo
from tests.support.services import ROOT, finished_run, wait_for

pytestmark = pytest.mark.integration


def test_flower_lists_the_workers_and_the_tasks_of_a_run_and_refuses_anonymous_access(
        production: Cluster, tmp_path: Path) -> None:
    with serving("flower", production.env | OPERATOR_ENV, tmp_path / "flower.log") as flower:
        assert flower.get("/api/workers").status_code == 401
        assert flower.get("/api/tasks").status_code == 401
        assert flower.get("/").status_code == 401
        assert flower.get("/api/workers", auth=(AUTH[0], "wrong")).status_code == 401
        assert flower.get("/metrics").status_code == flower.get("/metrics", auth=(AUTH[0], "wrong")).status_code == 401

        workers = wait_for(lambda: (found := flower.get("/api/workers", params={"refresh": 1}, auth=AUTH).json())
                           and len(found) >= 4 and found, 20, "Flower to list the four organ workers")
        assert {name.split("@")[0] for name in workers} >= {"perception", "judgment", "relationship", "evolution"}

        def seen(task_id: str) -> bool:
            return task_id in flower.get("/api/tasks", auth=AUTH).json()

        def probe() -> bool:
            sent = echo.delay(1)
            sent.get(timeout=10)
            return seen(sent.id)

        # Flower sees only events sent after it subscribed: wait until a probe task shows up.
        wait_for(probe, 30, "Flower to receive task events", interval_s=1)
        started = start(production.app, NOOP_SYNC, {"date": "2026-03-03"})
        run = finished_run(production.settings.database, started.run_id)
        assert run.status == "succeeded", run.error
        wait_for(lambda: all(seen(node.task_id) for node in run.nodes), 20, "Flower to list the run's eight tasks")
        task = flower.get(f"/api/task/info/{run.nodes[0].task_id}", auth=AUTH).json()
        assert task["state"] == "SUCCESS" and task["name"] == run.nodes[0].skill
        metrics = flower.get("/metrics", auth=AUTH)
        assert metrics.status_code == 200 and f'task="{run.nodes[0].skill}"' in metrics.text
    # Flower's persistent mode would keep its state as a pickle (flower.db): it stays off.
    assert not list(production.settings.data_dir.glob("flower*")) and not list(ROOT.glob("flower*"))


# Routes that serve no data: the probe (answers "OK"), Flower's own JavaScript and CSS, the login (a 404 without
# OAuth) and logged-out pages, and the catch-all 404.
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

    with serving("flower", production.env | OPERATOR_ENV, tmp_path / "flower.log", probe="/healthcheck") as flower:
        answers = {(method, path): flower.get(path) if method == "get" else flower.post(path)
                   for _, path, methods in routes for method in methods}
        assert flower.get("/healthcheck").text == "OK"

    assert {key: answer.status_code for key, answer in answers.items() if answer.status_code != 401} == {}


def test_flower_will_not_start_without_credentials(production: Cluster) -> None:
    from tests.integration.test_cli import organism

    done = organism("flower", env=production.env)

    assert done.returncode == 1
    assert "set ORGANISM_OBSERVABILITY__PASSWORD" in done.stderr and "Traceback" not in done.stderr
