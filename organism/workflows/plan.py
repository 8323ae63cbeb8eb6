"""What a builder returns: the run's canvas and the nodes it tracks, from the run's parameters.

A builder is a pure function of a :class:`RunContext`. It passes the run's parameters into the canvas as the
skills' arguments, and marks each skill call it wants tracked with :meth:`Plan.node`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from celery import Signature, shared_task
from pydantic import BaseModel

from organism.headers import NODE_HEADER, RUN_HEADER
from organism.settings import Settings
from organism.workflows.tracking import run_failed

_NODE_IDS = uuid.UUID("6f1d9a52-3c1e-4e0b-9a59-0b7f1c2d8e41")


@dataclass(frozen=True)
class RunContext:
    """What a builder knows about the run it builds.

    Attributes:
        params: the run's validated parameters (an instance of its workflow's parameters model).
        generation: 0 for a run's first canvas, N after its Nth resume (node task ids differ per canvas).
        reuse: results of nodes that already succeeded, by node name: a resumed run does not redo them.
    """

    run_id: str
    key: str
    params: BaseModel
    settings: Settings
    generation: int = 0
    reuse: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class NodeSpec:
    name: str
    phase: int
    phase_name: str
    skill: str
    organ: str
    task_id: str


@dataclass
class Plan:
    """A workflow's canvas and the nodes it will track, as a builder returns them."""

    signature: Signature | None = None
    nodes: list[NodeSpec] = field(default_factory=list)

    def node(self, ctx: RunContext, sig: Signature, name: str, phase: int, phase_name: str) -> Signature:
        """Make ``sig`` a tracked node of the run: a task id derived from run and name, and the run header.

        In a resumed run, a node that already succeeded becomes a task that hands on its stored result.
        """
        organ = sig.type.skill.organ
        if name in ctx.reuse:
            return hand_on.si(ctx.reuse[name]).set(queue=organ, routing_key=organ)
        task_id = str(uuid.uuid5(_NODE_IDS, f"{ctx.run_id}/{name}" + (f"/{ctx.generation}" if ctx.generation else "")))
        self.nodes.append(NodeSpec(name, phase, phase_name, sig.task, organ, task_id))
        return sig.set(task_id=task_id, headers={RUN_HEADER: ctx.run_id, NODE_HEADER: name})

    def errback(self, ctx: RunContext) -> Signature:
        """The errback to attach to chord bodies: a failed header reaches its chord body's errbacks."""
        return run_failed.s(run_id=ctx.run_id, generation=ctx.generation)


def handed_on(organ: str) -> Signature:
    """:func:`hand_on` on ``organ``'s queue (that of the step which waits for what it hands on)."""
    return hand_on.s().set(queue=organ, routing_key=organ)


@shared_task(name="organism.hand_on", ignore_result=False)
def hand_on(value: Any) -> Any:
    """Hand a value on to the next phase: a result a node produced in an earlier canvas of the same run, or a
    phase's result that a later phase needs besides its own inputs."""
    return value
