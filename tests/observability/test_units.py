"""The pure parts: DAG and chart layout, outcome lines and JSON logs, credentials, outcome and latency rules."""

from __future__ import annotations

import base64
import io
import json
import logging
from datetime import UTC, datetime
from types import SimpleNamespace

from organism.console.charts import bars
from organism.console.dag import BOX_W, layout
from organism.errors import Deferred
from organism.observability import hooks
from organism.observability.auth import basic_credentials
from organism.observability.broker import BacklogClock
from organism.observability.instruments import Outcome
from organism.observability.logs import OUTCOME_LOGGER, JsonFormatter, OutcomeLine, configure, log_outcome
from organism.observability.settings import ObservabilitySettings
from tests.observability.servers import basic


def _node(name: str, phase: int, status: str = "succeeded") -> SimpleNamespace:
    return SimpleNamespace(name=name, phase=phase, phase_name=f"phase{phase}", skill=f"s.{name}", status=status)


def test_the_dag_has_a_column_per_phase_and_an_edge_per_dependency() -> None:
    nodes = [_node(f"q{i}", 0) for i in range(1, 5)] + [_node("join", 1), _node("a", 2), _node("b", 2),
                                                         _node("keep", 3, "running")]

    drawn = layout(nodes, {"q1": 0.5})

    assert [c.title for c in drawn.columns] == ["phase0", "phase1", "phase2", "phase3"]
    assert len(drawn.edges) == 4 * 1 + 1 * 2 + 2 * 1
    by_name = {box.name: box for box in drawn.boxes}
    assert {by_name[f"q{i}"].x for i in range(1, 5)} == {drawn.columns[0].x}
    assert by_name["join"].x > by_name["q1"].x + BOX_W and by_name["q1"].seconds == 0.5
    assert by_name["keep"].status == "running" and drawn.width > 4 * BOX_W


def test_bars_scale_to_the_largest_and_keep_zero_visible() -> None:
    drawn = bars([("a", 0.0), ("b", 2.0), ("c", 1.0)], width=300, height=136)

    assert [bar.h for bar in drawn] == [1.0, 100.0, 50.0]
    assert drawn[1].y + drawn[1].h == drawn[2].y + drawn[2].h


def test_an_outcome_line_in_json_has_its_fields_and_no_secret() -> None:
    line = OutcomeLine(skill="q1p0.scan", outcome="failed", task_id="t-1", organ="perception", attempt=2,
                       duration_s=0.25, run_id="r-1", node="q1.scan", error="Rejected: token=hunter2 sk-abcdefgh123")
    written = io.StringIO()
    handler = logging.StreamHandler(written)
    handler.setFormatter(JsonFormatter())
    OUTCOME_LOGGER.addHandler(handler)
    OUTCOME_LOGGER.setLevel(logging.INFO)
    try:
        log_outcome(line)
    finally:
        OUTCOME_LOGGER.removeHandler(handler)

    document = json.loads(written.getvalue())
    assert document["message"].startswith("q1p0.scan failed task_id=t-1 organ=perception attempt=2 "
                                          "duration_s=0.25 run_id=r-1 node=q1.scan error=")
    assert document["level"] == "WARNING" and document["node"] == "q1.scan" and document["attempt"] == 2
    assert document["error"] == "Rejected: token=*** ***"
    assert "hunter2" not in written.getvalue() and "sk-abcdefgh123" not in written.getvalue()


def test_worker_handlers_scrub_secrets_from_messages_and_tracebacks() -> None:
    written = io.StringIO()
    logger = logging.getLogger("tests.observability.scrubbed")
    logger.propagate, handler = False, logging.StreamHandler(written)
    logger.addHandler(handler)
    configure(logger, ObservabilitySettings(log_format="json"))
    try:
        raise RuntimeError("api_key=sk-live-0123456789")
    except RuntimeError:
        logger.exception("Task %s raised: %r", "q1p0.scan", "Bearer abc.def")
    finally:
        logger.removeHandler(handler)

    document = json.loads(written.getvalue())
    assert document["message"] == "Task q1p0.scan raised: 'Bearer ***'"
    assert "RuntimeError: api_key=***" in document["exception"] and "sk-live" not in written.getvalue()


def test_basic_credentials_are_read_from_a_basic_header_only() -> None:
    assert basic_credentials(basic("alice", "pass:with:colons")) == ("alice", "pass:with:colons")
    assert basic_credentials(basic("alice", "")) == ("alice", "")
    assert basic_credentials("Bearer s3cret-pass") is None and basic_credentials("Basic %%%") is None
    assert basic_credentials("Basic " + base64.b64encode(b"no colon").decode()) is None
    assert basic_credentials(None) is None and basic_credentials("") is None


def test_outcomes_and_the_time_a_message_could_first_start() -> None:
    retry = SimpleNamespace(exc=Deferred("circuit open", 3.0))

    assert hooks._outcome("SUCCESS", {"degraded": [{"dependency": "memory"}]}) == (Outcome.DEGRADED, None)
    assert hooks._outcome("SUCCESS", {"x": 1}) == (Outcome.SUCCEEDED, None)
    assert hooks._outcome("RETRY", retry) == (Outcome.RETRIED, retry.exc)
    eta = datetime(2030, 1, 1, tzinfo=UTC)
    request = SimpleNamespace(eta=eta.isoformat(), **{hooks.PUBLISHED_HEADER: 100.0})
    assert hooks.due_at(request) == eta.timestamp()
    assert hooks.due_at(SimpleNamespace(eta=None, **{hooks.PUBLISHED_HEADER: 100.0})) == 100.0
    assert hooks.due_at(SimpleNamespace(eta=None)) is None


def test_the_backlog_clock_bounds_the_age_from_the_last_time_it_saw_the_queue_empty() -> None:
    clock = BacklogClock()

    assert clock.age_s("q", 5, now=10.0) is None
    assert clock.age_s("q", 0, now=20.0) == 0.0
    assert clock.age_s("q", 3, now=27.5) == 7.5
