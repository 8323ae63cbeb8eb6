"""Judgment (P1): scoring and ranking what synthesis found.

Ranking, tie-breaking and the output's shape stay in :mod:`tasks.analysis.evaluation`. With a model configured,
one call through the gateway scores every insight with a rationale (prompts ``config/prompts/opportunity.toml``
and ``risk.toml``) and is plugged in as the evaluation's ``scorer``; an insight the model left out keeps the
deterministic score and says so. The model is optional: past the budget, with its circuit open, or failing on
the last attempt, the skill goes on without it, degraded. The result's ``engine`` says which path made it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel, Field

from organism.gateway.client import model_configured
from organism.gateway.structured import MODEL_UNAVAILABLE, NO_MODEL, complete_json, deterministic, without_model
from organism.skill import skill
from tasks.analysis.evaluation import (
    OPPORTUNITY_WEIGHTS,
    RISK_WEIGHTS,
    evaluate_opportunities,
    evaluate_risks,
    score_opportunity,
    score_risk,
)
from tasks.relationship import brief

Scorer = Callable[[dict[str, Any]], tuple[float, str]]


class Score(BaseModel):
    """The model's judgment of one insight."""

    id: str
    score: float = Field(ge=0, le=100)
    rationale: str = Field(min_length=3, max_length=600)


class JudgmentReply(BaseModel):
    scores: list[Score]


def _judged(kind: str, synthesis: dict[str, Any], top_n: int, weights: Mapping[str, float],
            evaluate: Callable[..., dict[str, Any]], fallback: Scorer) -> dict[str, Any]:
    """Evaluate with the model as the scorer when one is configured, else (or past the budget) deterministically."""
    insights = synthesis.get("insights") or []
    if not model_configured():
        return {**evaluate(synthesis, top_n), "engine": NO_MODEL}
    if not insights:
        return {**evaluate(synthesis, top_n), "engine": deterministic("no insight to judge")}
    try:
        reply = complete_json(kind, {"insights": [brief(i) for i in insights], "weights": dict(weights)},
                              JudgmentReply)
    except MODEL_UNAVAILABLE as unavailable:
        return {**evaluate(synthesis, top_n), "engine": without_model(unavailable)}
    scores = {s.id: (s.score, s.rationale) for s in reply.value.scores}

    def scorer(insight: dict[str, Any]) -> tuple[float, str]:
        if insight.get("id") in scores:
            return scores[insight["id"]]
        score, rationale = fallback(insight)
        return score, f"not scored by the model; deterministic: {rationale}"

    return {**evaluate(synthesis, top_n, scorer=scorer), "engine": reply.engine}


@skill(organ="judgment", optional=["model"])
def opportunity_evaluator(synthesis: dict[str, Any], top_n: int = 5) -> dict[str, Any]:
    """Rank the insights as opportunities worth acting on."""
    return _judged("opportunity", synthesis, top_n, OPPORTUNITY_WEIGHTS, evaluate_opportunities, score_opportunity)


@skill(organ="judgment", optional=["model"])
def risk_evaluator(synthesis: dict[str, Any], top_n: int = 5) -> dict[str, Any]:
    """Rank the insights by the risk of leaving them alone."""
    return _judged("risk", synthesis, top_n, RISK_WEIGHTS, evaluate_risks, score_risk)
