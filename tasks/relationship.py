"""Relationship (P2): relating what the four quadrants saw to one another.

The linking and the signals are always deterministic (:mod:`tasks.analysis.synthesis`), so rankings never depend
on the model. With a model configured, one call through the gateway names every insight: a title and a one-line
summary written from its keywords and signals (prompt ``config/prompts/synthesis.toml``). The model is optional:
past the budget, with its circuit open, or failing on the last attempt, the skill goes on without it, degraded.
The result's ``engine`` says which path made it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from organism.gateway.client import model_configured
from organism.gateway.structured import MODEL_UNAVAILABLE, NO_MODEL, complete_json, deterministic, without_model
from organism.skill import skill
from tasks.analysis.synthesis import synthesize


class InsightText(BaseModel):
    """What the model writes for one insight."""

    id: str
    title: str = Field(min_length=3, max_length=160)
    summary: str = Field(max_length=500)


class SynthesisReply(BaseModel):
    insights: list[InsightText]


def brief(insight: dict[str, Any]) -> dict[str, Any]:
    """An insight as the model sees it: what supports it, without post ids it cannot read."""
    return {"id": insight["id"], "title": insight.get("title"), "quadrants": insight.get("quadrants"),
            "keywords": insight.get("keywords"), "signals": insight.get("signals"),
            "emotion": insight.get("emotion"), "scene": insight.get("scene"),
            "posts": len(insight.get("evidence") or [])}


@skill(organ="relationship", optional=["model"])
def cross_quadrant_synthesis(scans: list[dict[str, Any]]) -> dict[str, Any]:
    """Join the quadrant scans into insights that more than one quadrant supports.

    The result carries the scans it joined (``scans``), so that the phases after it see them through the canvas.
    """
    return {**_synthesis(scans), "scans": scans}


def _synthesis(scans: list[dict[str, Any]]) -> dict[str, Any]:
    found = synthesize(scans)
    if not model_configured():
        return {**found, "engine": NO_MODEL}
    if not found["insights"]:
        return {**found, "engine": deterministic("no insight to name")}
    try:
        reply = complete_json("synthesis", {"insights": [brief(i) for i in found["insights"]]}, SynthesisReply)
    except MODEL_UNAVAILABLE as unavailable:
        return {**found, "engine": without_model(unavailable)}
    texts = {text.id: text for text in reply.value.insights}
    for insight in found["insights"]:
        text = texts.get(insight["id"])
        if text is not None:
            insight["title"], insight["summary"] = text.title, text.summary
    return {**found, "engine": reply.engine}
