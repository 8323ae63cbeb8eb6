"""The Daily Sync's shape, from its pure builder, without a broker."""

from __future__ import annotations

import uuid
from pathlib import Path

from celery.canvas import _chain, _chord

from organism.app import create_app
from organism.headers import NODE_HEADER, RUN_HEADER
from organism.settings import load
from organism.workflows.plan import RunContext
from organism.workflows.registry import workflow
from organism.workflows.start import parameters


def _plan(run_id: str, **ctx: object):  # type: ignore[no-untyped-def]
    app = create_app(load())
    daily_sync = workflow(app, "daily-sync")
    params = parameters(app, daily_sync, {"date": "2026-11-23"})
    context = RunContext(run_id=run_id, key="daily-sync:2026-11-23", params=params, settings=app.settings,
                         **ctx)  # type: ignore[arg-type]
    return daily_sync.build(context)


def test_four_scans_then_synthesis_then_two_evaluations_then_store() -> None:
    plan = _plan("run-1")

    assert isinstance(plan.signature, _chain)
    first, second = plan.signature.tasks
    assert isinstance(first, _chord) and isinstance(second, _chord)
    assert [t.task for t in first.tasks] == ["q1p0.pain_scanner", "q2p0.emotion_scanner", "q3p0.trend_scanner",
                                             "q4p0.scene_scanner"]
    assert first.body.task == "p2.cross_quadrant_synthesis"
    assert [t.task for t in second.tasks] == ["p1.opportunity_evaluator", "p1.risk_evaluator", "organism.hand_on"]
    window = {"start": "2026-11-22T06:00:00+08:00", "end": "2026-11-23T06:00:00+08:00"}
    assert second.body.task == "p3.report_keeper"
    assert second.body.kwargs == {"run_id": "run-1", "key": "daily-sync:2026-11-23", "window": window}
    assert [(n.name, n.phase_name, n.organ) for n in plan.nodes] == [
        ("q1.pain_points", "perception", "perception"), ("q2.emotions", "perception", "perception"),
        ("q3.trends", "perception", "perception"), ("q4.scenes", "perception", "perception"),
        ("synthesis", "synthesis", "relationship"), ("eval.opportunity", "judgment", "judgment"),
        ("eval.risk", "judgment", "judgment"), ("store", "store", "evolution")]


def test_nodes_carry_their_run_and_name_and_deterministic_task_ids() -> None:
    one, again, other = _plan("run-1"), _plan("run-1"), _plan("run-2")

    assert [n.task_id for n in one.nodes] == [n.task_id for n in again.nodes]
    assert not {n.task_id for n in one.nodes} & {n.task_id for n in other.nodes}
    assert all(uuid.UUID(n.task_id) for n in one.nodes)
    first = one.signature.tasks[0]
    assert [t.options["headers"] for t in first.tasks] == [{RUN_HEADER: "run-1", NODE_HEADER: n.name}
                                                           for n in one.nodes[:4]]
    assert [t.options["task_id"] for t in first.tasks] == [n.task_id for n in one.nodes[:4]]


def test_chord_bodies_carry_the_run_errback_with_its_generation() -> None:
    plan = _plan("run-1", generation=2)

    for chord in plan.signature.tasks:
        [errback] = chord.body.options["link_error"]
        assert errback["task"] == "organism.run_failed" and errback["kwargs"] == {"run_id": "run-1", "generation": 2}


def test_a_resumed_run_hands_on_stored_results_instead_of_redoing_nodes() -> None:
    scans = {"q1.pain_points": {"quadrant": "q1"}, "q3.trends": {"quadrant": "q3"}}
    plan = _plan("run-1", generation=1, reuse=scans)

    header = plan.signature.tasks[0].tasks
    assert [t.task for t in header] == ["organism.hand_on", "q2p0.emotion_scanner", "organism.hand_on",
                                        "q4p0.scene_scanner"]
    assert header[0].args == ({"quadrant": "q1"},) and header[0].immutable
    assert [n.name for n in plan.nodes] == ["q2.emotions", "q4.scenes", "synthesis", "eval.opportunity", "eval.risk",
                                            "store"]
    assert not {n.task_id for n in plan.nodes} & {n.task_id for n in _plan("run-1").nodes}


def test_the_runs_parameters_reach_the_scans_as_arguments() -> None:
    scans = _plan("run-1").signature.tasks[0].tasks
    window = {"start": "2026-11-22T06:00:00+08:00", "end": "2026-11-23T06:00:00+08:00"}
    assert all(len(t.args) == 2 and t.args[1] == window for t in scans)
    assert all(t.args[0] == scans[0].args[0] and all(Path(s).is_file() for s in t.args[0]) for t in scans)
    assert [t.kwargs for t in scans] == [{}, {}, {"history": 3}, {}]
