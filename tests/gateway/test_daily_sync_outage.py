"""A model outage during a Daily Sync, on real workers, with the fake model server answering 500 to every request:
the run ends succeeded, degraded, each model-using node naming the failure, whether the breaker opened within the
calls' attempts or never did. The console's Cluster page then shows the circuit as it is.

Retries wait 0.05 s, 0.1 s, 0.2 s (ORGANISM_RETRY_BACKOFF_BASE_S) so that four attempts of seven nodes stay quick.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from organism.store.models import Run
from tasks.daily_sync import EVALUATIONS, SCANS
from tests.conftest import daily_sync_on_own_workers
from tests.gateway.conftest import API_KEY, FakeServer
from tests.observability.servers import accounts, console_session, serving
from tests.support.services import ensure_services

MODEL_NODES = [*SCANS, "synthesis", *EVALUATIONS]
ATTEMPTS = 4  # the default retry policy: the first attempt and 3 retries
LAST_ATTEMPT = "(the last attempt: no retry left)"


def outage(fake_server: FakeServer, tmp_path: Path, breaker_failures: int) -> tuple[Run, dict[str, str]]:
    """A Daily Sync on workers of its own while every model request fails; the run and the workers' environment."""
    ensure_services()
    fake_server.reset()
    fake_server.control(fail_rate=1.0)
    try:
        run, _, env = daily_sync_on_own_workers(tmp_path, {
            "ORGANISM_GATEWAY__BASE_URL": fake_server.url, "ORGANISM_GATEWAY__MODEL": "fake-model",
            "ORGANISM_GATEWAY__API_KEY": API_KEY, "ORGANISM_GATEWAY__BREAKER_FAILURES": str(breaker_failures),
            "ORGANISM_RETRY_BACKOFF_BASE_S": "0.05"})
    finally:
        fake_server.control(fail_rate=0.0)
    return run, env


def degradations(run: Run) -> dict[str, dict[str, Any]]:
    """Each model-using node's one degradation."""
    nodes = {node.name: node for node in run.nodes}
    found = {}
    for name in MODEL_NODES:
        assert [note["dependency"] for note in nodes[name].degraded] == ["model"], (name, nodes[name].degraded)
        assert nodes[name].result["engine"].startswith("deterministic (model unavailable: "), name
        found[name] = nodes[name].degraded[0]
    return found


def test_with_a_breaker_that_never_opens_every_model_node_degrades_on_its_last_attempt(
        fake_server: FakeServer, tmp_path: Path) -> None:
    run, _ = outage(fake_server, tmp_path, breaker_failures=1000)

    assert run.status == "succeeded", run.error
    for name, note in degradations(run).items():
        assert "HTTP 500" in note["reason"] and note["reason"].endswith(LAST_ATTEMPT), (name, note)
    # each node asked once per attempt, and gave up after its last
    assert fake_server.stats()["outcomes"] == {"500": ATTEMPTS * len(MODEL_NODES)}


def test_with_the_default_breaker_the_run_degrades_and_the_cluster_page_shows_the_circuit_open(
        fake_server: FakeServer, tmp_path: Path) -> None:
    run, env = outage(fake_server, tmp_path, breaker_failures=5)

    assert run.status == "succeeded", run.error
    reasons = [note["reason"] for note in degradations(run).values()]
    assert all(reason.startswith("circuit open for ") or reason.endswith(LAST_ATTEMPT) for reason in reasons), reasons
    assert any(reason.startswith("circuit open for ") for reason in reasons), reasons
    assert fake_server.stats()["outcomes"]["500"] < ATTEMPTS * len(MODEL_NODES)  # the open circuit spared some

    with serving("console", accounts(env), tmp_path / "console.log", probe="/healthz") as console:
        browser, _ = console_session(console)
        page = browser.get(console.url + "/cluster", timeout=30).text
    row = re.search(rf'<tr data-endpoint="{re.escape(fake_server.url)}">(.*?)</tr>', page, re.DOTALL)
    assert row is not None, page
    cells = row[1]
    assert re.search(r'data-breaker="open"><span class="badge breaker-open">open(, cooldown over: the next call '
                     r'probes)?</span> since <time datetime="', cells), cells
    failures = re.search(r'data-failures="(\d+)">\d+ \(opens at 5\)', cells)
    assert failures is not None and int(failures[1]) >= 5, cells
