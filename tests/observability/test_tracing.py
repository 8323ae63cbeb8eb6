"""Tracing: one Daily Sync on real worker processes, with the model on the fake server, exports one trace to a real
OTLP/HTTP receiver: the run's root span, its 8 node spans under it from several processes, and under each node
its model calls with the ``gen_ai.*`` attributes and the ledger's tokens and cost. Off, nothing of OpenTelemetry
is even imported; a wrong setting is one line; a secret in an error never leaves the process."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import select

from organism import store
from organism.app import create_app
from organism.gateway.models import LedgerEntry
from organism.local import LocalWorkers
from organism.observability import tracing
from organism.observability.tracing_settings import TracingSettings
from organism.settings import SettingsError, load
from organism.store.models import DeadLetter
from organism.workflows.queries import find_run
from organism.workflows.start import start
from tests.conftest import daily_sync_on_own_workers, make_settings
from tests.gateway.conftest import API_KEY, FakeServer, fake_server
from tests.support.faulty import fail_with
from tests.support.noop import FAIL_SYNC, GATE
from tests.support.otlp import OtlpReceiver
from tests.support.services import ROOT, ensure_services, finished_run, profile_env, wait_for

__all__ = ["fake_server"]  # the fixture, shared with the gateway's tests

NODE_SPAN_KEYS = {"organism.run_id", "organism.node", "organism.skill", "organism.organ", "organism.attempt",
                  "organism.queue_wait_s"}
MODEL_SPAN_KEYS = {"gen_ai.operation.name", "gen_ai.system", "gen_ai.request.model", "gen_ai.response.model",
                   "gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens", "organism.cost_usd", "server.address",
                   "server.port"}
INTERNAL, SERVER, CLIENT, CONSUMER = 1, 2, 3, 5  # the OTLP span kinds used below
ERROR = 2
TRACING_MODULES = ("opentelemetry.sdk.trace", "opentelemetry.exporter", "opentelemetry.instrumentation",
                   "opentelemetry.propagate")


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as started:
        yield started
    tracing.configure(TracingSettings())  # this process stops tracing, whatever the test did


@pytest.mark.integration
def test_a_daily_sync_is_one_trace_with_its_nodes_and_model_calls_across_processes(
    fake_server: FakeServer, receiver: OtlpReceiver, tmp_path: Path
) -> None:
    ensure_services()
    fake_server.reset()
    run, settings, _ = daily_sync_on_own_workers(tmp_path, {
        "ORGANISM_GATEWAY__BASE_URL": fake_server.url, "ORGANISM_GATEWAY__MODEL": "fake-model",
        "ORGANISM_GATEWAY__API_KEY": API_KEY, "ORGANISM_TRACING__OTLP_ENDPOINT": receiver.endpoint,
        "ORGANISM_TRACING__SERVICE_NAME": "organism-test"})
    tracing.configure(TracingSettings())  # the starter's spans sent; the workers sent theirs when they stopped
    assert run.status == "succeeded", run.error
    with store.session(settings.database) as s:
        ledger = list(s.scalars(select(LedgerEntry).where(LedgerEntry.run_id == run.id)))
    assert ledger, "the Daily Sync made no model call"

    roots = [s for s in receiver.spans if s.name == f"run {run.key}"]
    assert len(roots) == 1, [s.name for s in receiver.spans]
    root = roots[0]
    assert root.parent_id is None and root.kind == INTERNAL
    assert root.attributes["organism.run_id"] == run.id and root.attributes["organism.workflow"] == "daily-sync"
    assert root.resource["process.pid"] == os.getpid() and root.resource["service.name"] == "organism-test"
    of_run = [s for s in receiver.spans if s.attributes.get("organism.run_id") == run.id]
    assert {s.trace_id for s in of_run} == {root.trace_id}
    in_trace = [s for s in receiver.spans if s.trace_id == root.trace_id]
    assert len({s.span_id for s in in_trace}) == len(in_trace)
    by_id = {s.span_id: s for s in in_trace}
    assert all(s.parent_id in by_id for s in in_trace if s is not root), "a span of the run has no parent in it"

    nodes = {n.name: n for n in run.nodes}
    node_spans = {s.attributes["organism.node"]: s for s in in_trace if "organism.node" in s.attributes}
    assert len([s for s in in_trace if "organism.node" in s.attributes]) == len(nodes) == 8
    assert set(node_spans) == set(nodes)
    for name, span in node_spans.items():
        node = nodes[name]
        assert span.parent_id == root.span_id, name
        assert span.name == f"node {name}" and span.kind == CONSUMER, span.name
        assert set(span.attributes) >= NODE_SPAN_KEYS, name
        assert span.attributes["organism.skill"] == node.skill and span.attributes["organism.organ"] == node.organ
        assert span.attributes["organism.attempt"] == 1 and span.attributes["organism.queue_wait_s"] >= 0
        assert span.attributes["messaging.message.id"] == node.task_id
        assert span.resource["service.name"] == "organism-test"
    pids = {s.resource["process.pid"] for s in node_spans.values()}
    assert len(pids) >= len({n.organ for n in nodes.values()}), pids  # a worker process (at least) per organ

    calls = [s for s in in_trace if s.attributes.get("gen_ai.operation.name") == "chat"]
    assert len(calls) == len(ledger)
    task_of = {span.span_id: name for name, span in node_spans.items()}
    seen = Counter()
    for call in calls:
        assert call.parent_id in task_of, f"{call.name} is not under a node's span"
        assert call.kind == CLIENT and call.name == "chat fake-model"
        assert set(call.attributes) == MODEL_SPAN_KEYS, call.attributes  # and so no prompt, reply or key
        assert call.attributes["gen_ai.system"] == "openai"
        assert call.attributes["gen_ai.request.model"] == call.attributes["gen_ai.response.model"] == "fake-model"
        assert call.resource == by_id[call.parent_id].resource  # the node's own process made it
        seen[(nodes[task_of[call.parent_id]].task_id, call.attributes["gen_ai.usage.input_tokens"],
              call.attributes["gen_ai.usage.output_tokens"], round(call.attributes["organism.cost_usd"], 12))] += 1
    assert seen == Counter((row.task_id, row.prompt_tokens, row.completion_tokens, round(row.cost_usd, 12))
                           for row in ledger)
    assert all(API_KEY not in str(s) for s in receiver.spans)


@pytest.mark.integration
def test_a_call_outside_runs_is_a_trace_of_its_attempts_with_the_retry_and_the_dead_letter(
    receiver: OtlpReceiver, tmp_path: Path
) -> None:
    ensure_services()
    env, settings, _ = _traced(receiver, tmp_path)
    with LocalWorkers(settings, env=env, log_dir=tmp_path / "logs", organs=["perception"]):
        sent = fail_with.apply_async(("the password=hunter2 was refused",), {"transient": True})
        wait_for(lambda: _letter(settings.database, sent.id), 60, "the call's dead letter")
    tracing.configure(TracingSettings())

    [published] = [s for s in receiver.spans if s.name == "apply_async/test.fail_with" and s.parent_id is None]
    attempts = sorted((s for s in receiver.spans if s.name == "run/test.fail_with"),
                      key=lambda s: s.attributes["organism.attempt"])
    assert [s.attributes["organism.attempt"] for s in attempts] == [1, 2]
    assert {s.trace_id for s in attempts} == {published.trace_id}
    first, last = attempts
    assert first.parent_id == published.span_id  # through the traceparent the test process put in the headers
    assert [name for name, _ in first.events] == ["retry"]
    assert first.events[0][1]["exception.type"] == "TransientError" and first.status_code != ERROR
    [republished] = [s for s in receiver.spans if s.span_id == last.parent_id]
    assert republished.parent_id == first.span_id and republished.name == "apply_async/test.fail_with"
    assert last.status_code == ERROR and last.attributes["organism.dead_letter_reason"] == "exhausted"
    assert "dead-lettered" in [name for name, _ in last.events]
    assert "hunter2" not in str(receiver.spans) and "password=***" in last.status_message


@pytest.mark.integration
def test_a_run_resumed_from_another_process_stays_in_its_trace(receiver: OtlpReceiver, tmp_path: Path) -> None:
    ensure_services()
    gate = redis.Redis.from_url(GATE)
    gate.delete("gate")
    env, settings, app = _traced(receiver, tmp_path)
    with LocalWorkers(settings, env=env, log_dir=tmp_path / "logs"):
        started = start(app, FAIL_SYNC, {"date": date(2026, 2, 3)})
        assert finished_run(settings.database, started.run_id, timeout_s=30).status == "failed"
        wait_for(lambda: all(n.status != "running" for n in find_run(settings.database, started.run_id).nodes),
                 20, "the other scans to finish")
        gate.set("gate", "open")
        resumed = subprocess.run([sys.executable, "-m", "organism", "runs", "resume", started.run_id],
                                 capture_output=True, text=True, cwd=ROOT, env=os.environ | env, timeout=60)
        assert resumed.returncode == 0, resumed.stderr
        run = finished_run(settings.database, started.run_id, timeout_s=30)
    tracing.configure(TracingSettings())
    assert run.status == "succeeded", run.error

    [root] = [s for s in receiver.spans if s.name == f"run {run.key}"]
    [again] = [s for s in receiver.spans if s.name == "run sent again"]
    assert again.trace_id == root.trace_id and again.parent_id == root.span_id
    assert again.resource["process.pid"] not in (root.resource["process.pid"], os.getpid())
    node_spans = [s for s in receiver.spans if s.attributes.get("organism.run_id") == run.id
                  and "organism.node" in s.attributes]
    assert {s.trace_id for s in node_spans} == {root.trace_id} and {s.parent_id for s in node_spans} == {root.span_id}
    assert Counter(s.attributes["organism.node"] for s in node_spans) == Counter(
        [n.name for n in run.nodes] + ["q2.gated"])  # q2.gated: the failed attempt and the resumed one
    failed, passed = sorted((s for s in node_spans if s.attributes["organism.node"] == "q2.gated"),
                            key=lambda s: s.status_code, reverse=True)
    assert failed.status_code == ERROR and failed.attributes["organism.dead_letter_reason"] == "permanent"
    assert passed.status_code != ERROR


def _letter(url: str, task_id: str) -> DeadLetter | None:
    with store.session(url) as s:
        return s.scalar(select(DeadLetter).where(DeadLetter.task_id == task_id))


def test_off_nothing_of_opentelemetry_is_imported_and_the_hooks_cost_nothing(tmp_path: Path) -> None:
    # redis-py imports OpenTelemetry's metrics API by itself when it is installed: the tracing parts must not be.
    script = (
        f"import sys\nTRACING = {TRACING_MODULES!r}\n"
        "from organism.app import create_app\n"
        "from organism.gateway import client\n"
        "from organism.observability import tracing\n"
        "from organism.workflows import start\n"
        "import tasks.daily_sync\n"
        "with tracing.run_started('r', 'k', 'w', 'by'), tracing.run_resent('r'):\n"
        "    with tracing.model_call('http://127.0.0.1:1/v1', 'm') as call:\n"
        "        call.answered(None, None)\n"
        "tracing.dead_lettered('permanent', 'ValueError')\n"
        "print(sorted(m for m in sys.modules if m == 'organism.observability.otel' or m.startswith(TRACING)))\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ORGANISM_", "OTEL_"))}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=120,
                          env=env | {"ORGANISM_DATA_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", done.stdout


@pytest.mark.parametrize(("variable", "value", "says"), [
    ("ORGANISM_TRACING__OTLP_ENDPOINT", "127.0.0.1:4318", "collector's http(s) URL"),
    ("ORGANISM_TRACING__SAMPLE_RATIO", "1.5", "less than or equal to 1"),
    ("ORGANISM_TRACING__HEADERS", '{"bad name": "x"}', "not an HTTP header name"),
])
def test_a_wrong_tracing_setting_is_one_line_naming_it(monkeypatch: pytest.MonkeyPatch, variable: str, value: str,
                                                      says: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as raised:
        load()
    assert len(str(raised.value).splitlines()) == 1
    assert str(raised.value).startswith(f"setting {variable}: ") and says in str(raised.value), raised.value


def test_the_collector_gets_its_headers_and_no_secret_from_an_error(receiver: OtlpReceiver) -> None:
    tracing.configure(TracingSettings(otlp_endpoint=receiver.endpoint, headers={"Authorization": "Bearer t0k"}))
    with pytest.raises(RuntimeError), tracing.run_started("run-a", "w:a", "w", "by hand"):
        raise RuntimeError("could not reach postgresql://organism:hunter2@db/organism with api_key=sk-abcdefghijkl")
    tracing.configure(TracingSettings())

    [span] = receiver.spans
    assert span.status_code == ERROR
    assert "hunter2" not in span.status_message and "sk-abcdefghijkl" not in span.status_message
    assert "postgresql://organism:***@db" in span.status_message
    assert receiver.headers[0]["authorization"] == "Bearer t0k"


def test_a_runs_root_is_the_same_span_wherever_it_is_computed(receiver: OtlpReceiver) -> None:
    """Two processes that start or publish for the same run name the same root; sampling keeps or drops it whole."""
    script = ("from organism.observability import otel, tracing\n"
              "from organism.observability.tracing_settings import TracingSettings\n"
              "tracing.configure(TracingSettings(otlp_endpoint='http://127.0.0.1:9', sample_ratio={ratio}))\n"
              "context = otel.run_context('run-b')\n"
              "print(f'{{context.trace_id:032x}} {{context.span_id:016x}} {{int(context.trace_flags.sampled)}}')\n")
    seen = {tuple(subprocess.run([sys.executable, "-c", script.format(ratio=ratio)], capture_output=True, text=True,
                                 cwd=ROOT, env=os.environ | {"PYTHONPATH": str(ROOT)}, check=True).stdout.split()[:2])
            for ratio in (1.0, 1.0, 0.5)}
    assert len(seen) == 1, seen

    tracing.configure(TracingSettings(otlp_endpoint=receiver.endpoint, sample_ratio=0.0))
    with tracing.run_started("run-b", "w:b", "w", "by hand"):
        pass
    tracing.configure(TracingSettings())
    assert receiver.spans == []  # not sampled: nothing exported


def _traced(receiver: OtlpReceiver, tmp_path: Path) -> tuple[dict[str, str], Any, Any]:
    """The embedded profile in ``tmp_path`` exporting to ``receiver``: its environment, settings and current app."""
    env = profile_env("embedded", tmp_path) | {"ORGANISM_TRACING__OTLP_ENDPOINT": receiver.endpoint,
                                               "PYTHONPATH": str(ROOT)}
    settings = make_settings(env)
    store.migrate(settings.database)
    app = create_app(settings)
    app.set_current()
    return env, settings, app
