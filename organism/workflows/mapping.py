"""Mapping a skill over many items in a workflow: the items go in chunks, each chunk one call and one tracked node.

    CLASSIFY_EACH = each(classify)  # at import, where the workers import it too

    def build(ctx: RunContext) -> Plan:
        plan = Plan()
        classified = map_items(plan, ctx, CLASSIFY_EACH, ctx.params.posts, name="classify", phase=0,
                               phase_name="classify", chunk_size=100)
        plan.signature = chain(classified, plan.node(ctx, report.s(), "report", 1, "report"))
        return plan

:func:`map_items` returns a chord of one call of the chunk skill per ``chunk_size`` items, each a node of the run
(``classify[0:100]``, ``classify[100:200]``, ...), joined by ``organism.gather``, which hands the next step every
item's result in the items' order. :func:`map_then` builds the whole plan of the common case, a map then one step
given all its results:

    def build(ctx: RunContext) -> Plan:
        return map_then(ctx, CLASSIFY_EACH, ctx.params.posts, report.s(), name="classify", then_name="report")

Why chunks, not a call and a node per item: a node per item is a row per item, and as each finishes, a transaction
that locks the run's row and looks for the run's unfinished nodes, which grows with the run: N rows, N
transactions queued on one row, N² rows read in all. Per item there would also be a message published and
confirmed, a result stored, a chord counter raised, and a join reading N results. A chunk costs each of these once
for ``chunk_size`` items. What a chunk keeps of a call per item: the skill's body and each item's validation, its
organ's queue and time limits, its retry policy and failure classes (the chunk is retried or dead-lettered as one
call), a resumed run running again only the chunks that did not succeed, and a chunk's dead letter replayed into
its run. What it gives up (docs/workflows.md): an item's failure fails its chunk, and a retry runs the chunk's
other items again; a chunk must fit the organ's soft time limit; the parallelism is the number of chunks.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

from celery import Signature, chain, chord, shared_task

from organism.errors import InvalidArguments, SkillDefinitionError
from organism.skill import SkillTask
from organism.workflows.plan import Plan, RunContext

CHUNK_SIZE = 100
EACH_SUFFIX = ".each"
_chunk_skills: dict[str, SkillTask] = {}


def each(task: SkillTask) -> SkillTask:
    """The chunk skill of ``task``, ``<its name>.each``: called with a list of items (and keyword arguments all
    items share), it runs ``task``'s body on each item in order and returns ``{"results": [...]}``.

    It is ``task`` in all but its body: the same organ, effect, retry policy, failure classes, priority, time to
    live, sealing and declared time limits. Declare it where the workers import it (a task module, at import):
    a chunk skill made only inside a builder is unknown to the workers.

    Raises:
        SkillDefinitionError: ``task`` takes no positional argument to map over.
    """
    if task.name in _chunk_skills:
        return _chunk_skills[task.name]
    body = task.run
    positional = [p for p in inspect.signature(body).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if not positional:
        raise SkillDefinitionError(f"each({task.name}): the skill takes no positional argument to map over")

    def run(items: list[Any], **shared: Any) -> dict[str, list[Any]]:
        results = []
        for index, item in enumerate(items):
            try:
                results.append(body(item, **shared))
            except InvalidArguments as error:
                raise InvalidArguments(f"item {index} of the chunk: {error}") from None
            except Exception as error:
                error.add_note(f"(item {index} of the chunk)")
                raise
        return {"results": results}

    limits = vars(task.__class__)  # the time limits the skill declares (its organ's apply to it otherwise)
    declared = {name: limits[name] for name in ("soft_time_limit", "time_limit") if name in limits}
    chunk: SkillTask = shared_task(run, name=f"{task.name}{EACH_SUFFIX}", base=SkillTask, bind=False,
                                   skill=task.skill, **declared)
    _chunk_skills[task.name] = chunk
    return chunk


def chunked(items: Sequence[Any], chunk_size: int) -> list[tuple[int, list[Any]]]:
    """``items`` in chunks of ``chunk_size`` (the last may be shorter), each with the index of its first item."""
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
    return [(start, list(items[start:start + chunk_size])) for start in range(0, len(items), chunk_size)]


def map_items(plan: Plan, ctx: RunContext, chunk_skill: SkillTask, items: Sequence[Any], *, name: str, phase: int,
              phase_name: str, chunk_size: int = CHUNK_SIZE, **shared: Any) -> Signature:
    """The canvas that runs ``chunk_skill`` (made by :func:`each`) over ``items``, ``chunk_size`` at a time, with the
    keyword arguments ``shared``; each chunk a node of the run named ``<name>[<first>:<end>]``. Its result is every
    item's result, in the items' order (a list). Pure: it touches nothing.

    Raises:
        ValueError: ``chunk_skill`` is not a chunk skill, or ``chunk_size`` is below 1.
    """
    if not any(chunk_skill.name == known.name for known in _chunk_skills.values()):
        raise ValueError(f"{chunk_skill.name} is not a chunk skill: map with each(skill), declared at import")
    organ = chunk_skill.skill.organ
    joined = gather.s().set(queue=organ, routing_key=organ)
    parts = chunked(items, chunk_size)
    if not parts:
        return gather.si([]).set(queue=organ, routing_key=organ)
    headers = [plan.node(ctx, chunk_skill.s(part, **shared), f"{name}[{start}:{start + len(part)}]", phase,
                         phase_name) for start, part in parts]
    joined.link_error(plan.errback(ctx))
    return chord(headers, joined)


def map_then(ctx: RunContext, chunk_skill: SkillTask, items: Sequence[Any], then: Signature, *, name: str,
             then_name: str, phase_name: str = "map", chunk_size: int = CHUNK_SIZE, **shared: Any) -> Plan:
    """A run's whole plan in two phases: ``chunk_skill`` over ``items`` as :func:`map_items` maps it (phase 0, named
    ``phase_name``; its nodes ``<name>[<first>:<end>]``), then ``then``, given every item's result in the items'
    order, as the node ``then_name`` (phase 1, of the same name), with the run's errback linked to it so that a
    failed chunk fails the run. Pure: it touches nothing.

    Raises:
        ValueError: as :func:`map_items`.
    """
    plan = Plan()
    mapped = map_items(plan, ctx, chunk_skill, items, name=name, phase=0, phase_name=phase_name,
                       chunk_size=chunk_size, **shared)
    joined = plan.node(ctx, then, then_name, 1, then_name)
    joined.link_error(plan.errback(ctx))
    plan.signature = chain(mapped, joined)
    return plan


@shared_task(name="organism.gather", ignore_result=False)
def gather(chunks: list[dict[str, list[Any]]]) -> list[Any]:
    """Join a map's chunks: every item's result, in the items' order."""
    return [result for chunk in chunks for result in chunk["results"]]
