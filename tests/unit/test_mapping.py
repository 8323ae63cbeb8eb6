"""A map's canvas from its pure builder, and its chunk skill's body, without a broker."""

from __future__ import annotations

from typing import Any

import pytest
from celery.canvas import _chain, _chord

from organism.app import create_app
from organism.errors import InvalidArguments, SkillDefinitionError
from organism.headers import NODE_HEADER
from organism.settings import load
from organism.skill import skill
from organism.workflows.mapping import each, map_items
from organism.workflows.plan import Plan, RunContext
from organism.workflows.registry import workflow
from organism.workflows.start import parameters
from tests.support.mapped import MAP_SQUARES, SQUARE_EACH, SquaresParams, square


def _plan(count: int, chunk_size: int, **ctx: Any) -> Plan:
    app = create_app(load(task_modules=("tests.support.mapped",)))
    mapped = workflow(app, MAP_SQUARES)
    params = parameters(app, mapped, {"count": count, "chunk_size": chunk_size, "tag": "t"})
    context = RunContext(run_id="run-1", key=f"{MAP_SQUARES}:t", params=params, settings=app.settings,
                         **ctx)
    plan: Plan = mapped.build(context)
    return plan


def test_the_items_go_in_chunks_each_a_node_then_are_gathered_in_order() -> None:
    plan = _plan(count=250, chunk_size=100)

    assert isinstance(plan.signature, _chain)
    (mapped,) = plan.signature.tasks  # Celery folds what follows the chord into its body
    assert isinstance(mapped, _chord)
    assert [t.task for t in mapped.tasks] == ["test.square.each"] * 3
    assert [t.args for t in mapped.tasks] == [(list(range(0, 100)),), (list(range(100, 200)),),
                                              (list(range(200, 250)),)]
    assert all(t.kwargs == {"refuse": []} for t in mapped.tasks)
    gathered, summed = mapped.body.tasks
    assert (gathered.task, gathered.options["queue"]) == ("organism.gather", "perception")
    assert summed.task == "test.total"
    assert [(n.name, n.phase, n.skill, n.organ) for n in plan.nodes] == [
        ("square[0:100]", 0, "test.square.each", "perception"),
        ("square[100:200]", 0, "test.square.each", "perception"),
        ("square[200:250]", 0, "test.square.each", "perception"), ("total", 1, "test.total", "perception")]
    assert [t.options["headers"][NODE_HEADER] for t in mapped.tasks] == [n.name for n in plan.nodes[:3]]


def test_a_resumed_map_runs_again_only_the_chunks_that_did_not_succeed() -> None:
    plan = _plan(count=250, chunk_size=100, generation=1, reuse={"square[100:200]": {"results": [1]}})

    assert plan.signature is not None
    mapped = plan.signature.tasks[0]
    assert [t.task for t in mapped.tasks] == ["test.square.each", "organism.hand_on", "test.square.each"]
    assert [n.name for n in plan.nodes] == ["square[0:100]", "square[200:250]", "total"]


def test_a_chunk_runs_the_skills_body_on_each_item_and_names_the_item_that_fails() -> None:
    assert SQUARE_EACH.run([1, 2, 3], refuse=[]) == {"results": [1, 4, 9]}
    assert each(square) is SQUARE_EACH
    assert (SQUARE_EACH.skill, SQUARE_EACH.name) == (square.skill, "test.square.each")

    with pytest.raises(InvalidArguments, match=r"^item 1 of the chunk: "):
        SQUARE_EACH.run([1, "two", 3])


def test_a_map_needs_a_chunk_skill_a_chunk_size_and_a_skill_that_takes_an_item() -> None:
    app = create_app(load(task_modules=("tests.support.mapped",)))
    ctx = RunContext(run_id="r", key="k", params=SquaresParams(count=1, chunk_size=1, tag="t"), settings=app.settings)

    with pytest.raises(ValueError, match=r"test.square is not a chunk skill: map with each\(skill\)"):
        map_items(Plan(), ctx, square, [1], name="square", phase=0, phase_name="map")
    with pytest.raises(ValueError, match=r"chunk_size must be at least 1, got 0"):
        map_items(Plan(), ctx, SQUARE_EACH, [1], name="square", phase=0, phase_name="map", chunk_size=0)

    @skill(organ="perception", name="test.units.nothing_to_map")
    def nothing() -> int:
        return 0

    with pytest.raises(SkillDefinitionError, match=r"each\(test.units.nothing_to_map\): the skill takes no "):
        each(nothing)
