"""`organism metrics` after a Daily Sync, a dead letter and some model calls: the scrape parses with Prometheus'
own text parser, and its counters and queue depths move by exactly what the test did. Every scrape needs the
scrape token or an operator account's credentials, and the exporter will not start with neither."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import delete

from organism import store
from organism.errors import Deferred
from organism.gateway import ledger
from organism.gateway.endpoint import Endpoints
from organism.gateway.models import Endpoint, LedgerEntry, Permit
from organism.gateway.prices import Price
from organism.gateway.provider import ChatResult, Usage
from organism.gateway.semaphore import Semaphore
from organism.store import session
from organism.workflows.start import start
from tests.conftest import Cluster, make_settings
from tests.integration.test_cli import organism
from tests.observability.servers import AUTH, Server, accounts, basic, free_port, serving
from tests.support.faulty import refuse
from tests.support.noop import NOOP_SYNC
from tests.support.services import finished_run, profile_env, wait_for

pytestmark = pytest.mark.integration
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
ORGANS = ("perception", "relationship", "judgment", "evolution")
SCRAPE_TOKEN = "scrape-0123456789abcdef"
BEARER = {"Authorization": f"Bearer {SCRAPE_TOKEN}"}


def scrape(server: Server) -> Samples:
    response = server.get("/metrics", headers=BEARER)
    assert response.status_code == 200, response.text
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(response.text) for sample in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
def exporter(production: Cluster, tmp_path: Path) -> Iterator[Server]:
    env = accounts(production.env) | {"ORGANISM_OBSERVABILITY__SCRAPE_TOKEN": SCRAPE_TOKEN}
    with serving("metrics", env, tmp_path / "metrics.log", probe="/metrics") as server:
        yield server


def test_a_scrape_needs_the_scrape_token_or_the_operator(exporter: Server) -> None:
    refused = [exporter.get("/metrics"), exporter.get("/metrics", headers={"Authorization": "Bearer wrong-token"}),
               exporter.get("/metrics", headers={"Authorization": f"Bearer {SCRAPE_TOKEN}x"}),
               exporter.get("/metrics", headers={"Authorization": basic(password=SCRAPE_TOKEN)}),
               exporter.get("/metrics", auth=(AUTH[0], "wrong")), exporter.get("/", headers={"Authorization": "x"})]

    assert [answer.status_code for answer in refused] == [401] * len(refused)
    assert all("organism_" not in answer.text for answer in refused)
    assert refused[0].headers["WWW-Authenticate"].startswith("Basic")
    for allowed in (exporter.get("/metrics", headers=BEARER), exporter.get("/metrics", auth=AUTH)):
        assert allowed.status_code == 200 and "organism_queue_messages" in allowed.text


def test_the_exporter_will_not_start_without_a_scrape_token_or_an_account(tmp_path: Path) -> None:
    env = profile_env("embedded", tmp_path)
    store.migrate(make_settings(env).database)  # a store that is known to hold no account

    done = organism("metrics", "--port", str(free_port()), env=env, timeout_s=30)

    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == ["Error: no one could scrape /metrics: set "
                                                "ORGANISM_OBSERVABILITY__SCRAPE_TOKEN (Prometheus sends it as a "
                                                "bearer token) or create an account with `organism operators add`"]


def _model_calls(url: str, skill: str, count: int) -> None:
    """Ledger rows as the gateway writes them for answered calls (no model API is needed to bill them)."""
    with session(url) as s:
        for seq in range(count):
            call = ledger.CallKey(uuid.uuid4().hex, 0, seq, skill, "perception", None, in_task=True)
            ledger.record(s, call, "http://127.0.0.1:1/v1", ChatResult("{}", Usage(1000, 250), "fake-model", 0.2),
                          Price(1.0, 2.0))


def test_scrape_counts_what_a_daily_sync_a_dead_letter_and_model_calls_did(production: Cluster,
                                                                           exporter: Server) -> None:
    url = production.settings.database
    endpoint = f"http://obs-{uuid.uuid4().hex[:8]}.invalid/v1"
    before = scrape(exporter)

    run = finished_run(url, start(production.app, NOOP_SYNC, {"date": "2026-03-01"}).run_id)
    assert run.status == "succeeded", run.error
    with pytest.raises(Exception, match="token="):
        refuse.delay("token=hunter2").get(timeout=20)
    _model_calls(url, "test.scan", 3)
    semaphore = Semaphore(url, endpoint, limit=2, lease_ttl_s=30, poll_s=0.05, max_wait_s=1)
    with session(url) as s:
        holder = semaphore.acquire(s)
    assert not isinstance(holder, Deferred), "the first permit of an idle endpoint was refused"
    with session(url) as s:
        Endpoints(url, endpoint).read(s)
    Endpoints(url, endpoint).update(breaker="open", failures=5, open_until=time.time() + 60)

    try:
        dead_before = value(before, "organism_queue_messages", queue="organism.dead")
        after = wait_for(lambda: (found := scrape(exporter))
                         and value(found, "organism_queue_messages", queue="organism.dead") == dead_before + 1
                         and found, 20, "the broker to move the dead letter to organism.dead")

        def grew(name: str, **labels: str) -> float:
            return value(after, name, **labels) - value(before, name, **labels)

        durations = "organism_skill_duration_seconds_count"
        assert grew(durations, skill="test.scan", organ="perception", outcome="succeeded") == 4
        assert grew(durations, skill="test.join", organ="relationship", outcome="succeeded") == 1
        assert grew(durations, skill="test.judge", organ="judgment", outcome="succeeded") == 2
        assert grew(durations, skill="test.keep", organ="evolution", outcome="succeeded") == 1
        assert grew(durations, skill="test.refuse", organ="perception", outcome="failed") == 1
        latency = "organism_meridian_latency_seconds_count"
        # perception: four scans and the refused call; evolution: the store and the synthesis handed on to it
        assert [grew(latency, organ=organ) for organ in ORGANS] == [5, 1, 2, 2]
        assert grew("organism_dead_letters_total", skill="test.refuse", organ="perception", reason="permanent") == 1
        assert value(after, "organism_dead_letters_waiting", skill="test.refuse") == 1
        for organ in ORGANS:
            assert value(after, "organism_queue_messages", queue=organ) == 0, organ
            assert value(after, "organism_queue_oldest_message_age_seconds", queue=organ) == 0, organ
            assert value(after, "organism_queue_consumers", queue=organ) >= 1, organ
        assert value(after, "organism_queue_oldest_message_age_seconds", queue="organism.dead") >= 0

        assert grew("organism_runs", workflow=NOOP_SYNC, status="succeeded") == 1
        assert grew("organism_run_duration_seconds_count", workflow=NOOP_SYNC, outcome="succeeded") == 1
        for phase in ("perception", "synthesis", "judgment", "store"):
            assert grew("organism_run_phase_duration_seconds_count", workflow=NOOP_SYNC, phase=phase,
                        outcome="succeeded") == 1, phase

        model = {"model": "fake-model", "skill": "test.scan"}
        assert grew("organism_model_calls_total", **model) == 3
        assert grew("organism_model_tokens_total", **model, kind="prompt") == 3000
        assert grew("organism_model_tokens_total", **model, kind="completion") == 750
        assert grew("organism_model_cost_usd_total", **model) == pytest.approx(3 * (1000 * 1.0 + 250 * 2.0) / 1e6)

        assert value(after, "organism_gateway_breaker_state", endpoint=endpoint, state="open") == 1
        assert value(after, "organism_gateway_breaker_state", endpoint=endpoint, state="closed") == 0
        assert value(after, "organism_gateway_permits", endpoint=endpoint) == 2
        assert value(after, "organism_gateway_permits_held", endpoint=endpoint) == 1
        assert all(value(after, "organism_source_up", source=source) == 1
                   for source in ("broker", "dead_letters", "ledger", "runs", "gateway"))
        assert not any("task_id" in dict(labels) for _, labels in after), "a task id became a label"
    finally:
        with session(url) as s:
            semaphore.release(s, holder)
        with session(url) as s:
            s.execute(delete(Permit).where(Permit.endpoint == endpoint))
            s.execute(delete(Endpoint).where(Endpoint.endpoint == endpoint))
            s.execute(delete(LedgerEntry).where(LedgerEntry.endpoint == "http://127.0.0.1:1/v1"))


def test_outcome_lines_name_run_node_task_organ_attempt_and_duration_without_secrets(production: Cluster) -> None:
    run = finished_run(production.settings.database, start(production.app, NOOP_SYNC, {"date": "2026-03-02"}).run_id)
    scan = next(node for node in run.nodes if node.name == "q1.scan")
    with pytest.raises(Exception, match="Bearer"):
        refuse.delay("Bearer abc.def-secret").get(timeout=20)
    log = production.workers.log_dir / "worker-perception.log"

    def line_of(task_id: str) -> str | None:
        return next((line for line in log.read_text().splitlines() if f"task_id={task_id}" in line), None)

    line = wait_for(lambda: line_of(scan.task_id), 10, "the outcome line of q1.scan")
    assert f"test.scan succeeded task_id={scan.task_id} organ=perception attempt=1 duration_s=" in line
    assert f"run_id={run.id} node=q1.scan" in line
    wait_for(lambda: "test.refuse failed" in log.read_text(), 10, "the outcome line of test.refuse")
    assert "abc.def-secret" not in log.read_text(), "a secret reached the worker's log"
