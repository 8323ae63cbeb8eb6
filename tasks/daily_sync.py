"""The Daily Sync: four scans in parallel → synthesis → two evaluations in parallel → store.

Built by a pure function: it returns the canvas and the nodes to track, and touches nothing. Chord headers
are single tasks and bodies single tasks (nested canvases are where Celery's chords hang).
"""

from __future__ import annotations

from typing import Any

from celery import chain, chord

from organism.workflows.runs import Plan, RunContext, register
from tasks import evolution, judgment, perception, relationship

NAME = "daily-sync"
PHASES = ("perception", "synthesis", "judgment", "store")
SCANS = {
    "q1.pain_points": perception.pain_scanner,
    "q2.emotions": perception.emotion_scanner,
    "q3.trends": perception.trend_scanner,
    "q4.scenes": perception.scene_scanner,
}
EVALUATIONS = {"eval.opportunity": judgment.opportunity_evaluator, "eval.risk": judgment.risk_evaluator}


def shape(ctx: RunContext, scans: dict[str, Any], synthesis: Any, evaluations: dict[str, Any],
          store: Any) -> Plan:
    """The Daily Sync's DAG over any skills of the right arity (the benchmarks use no-op ones)."""
    plan = Plan()
    sources = list(ctx.settings.sources)
    headers = [plan.node(ctx, skill.s(sources), name, 0, PHASES[0]) for name, skill in scans.items()]
    join = plan.node(ctx, synthesis.s(), "synthesis", 1, PHASES[1])
    judged = [plan.node(ctx, skill.s(), name, 2, PHASES[2]) for name, skill in evaluations.items()]
    keep = plan.node(ctx, store.s(run_id=ctx.run_id), "store", 3, PHASES[3])
    for body in (join, keep):
        body.link_error(plan.errback(ctx))
    plan.signature = chain(chord(headers, join), chord(judged, keep))
    return plan


@register(NAME)
def build(ctx: RunContext) -> Plan:
    """The Daily Sync canvas for one run."""
    return shape(ctx, SCANS, relationship.cross_quadrant_synthesis, EVALUATIONS, evolution.report_keeper)
