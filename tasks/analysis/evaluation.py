"""Judgment: rank the synthesised insights as opportunities and as risks.

Both rankings are weighted sums of an insight's four signals (each 0..1), scaled to 0..100, with
the weights stated below and repeated in every rationale so a reader can check the arithmetic.

* Opportunity: a pain that many people feel (pain 0.35) and that is growing (trend 0.30) is
  worth building for; a clear usage scene (0.20) says where to build; emotion (0.15) adds
  energy but on its own is not a product gap.
* Risk: strong negative emotion (0.35) and growth (0.35) are what turn a complaint into churn or
  a public incident; the size of the pain (0.30) sets the stakes. The other emotions (joy, trust,
  anticipation, surprise) count a quarter as much, since delight or eagerness is not a risk.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from tasks.analysis.synthesis import NEGATIVE_EMOTIONS

OPPORTUNITY_WEIGHTS: Mapping[str, float] = {"pain": 0.35, "trend": 0.30, "scene": 0.20, "emotion": 0.15}
RISK_WEIGHTS: Mapping[str, float] = {"emotion": 0.35, "trend": 0.35, "pain": 0.30}
NON_NEGATIVE_EMOTION_RISK = 0.25
SIGNALS = ("pain", "emotion", "trend", "scene")

Scorer = Callable[[dict[str, Any]], tuple[float, str]]


# --- MODEL SEAM -----------------------------------------------------------------------------
# score_opportunity and score_risk are the deterministic judges: insight in, (score 0..100,
# rationale) out. A model-backed judge (an LLM behind the gateway) can replace either by passing
# ``scorer=`` to the evaluate_* functions with the same signature; ranking, tie-breaking and the
# output shape stay here.
def score_opportunity(insight: dict[str, Any]) -> tuple[float, str]:
    """Opportunity score from the insight's signals with :data:`OPPORTUNITY_WEIGHTS`."""
    return _weighted(insight, _signals(insight), OPPORTUNITY_WEIGHTS)


def score_risk(insight: dict[str, Any]) -> tuple[float, str]:
    """Risk/urgency score with :data:`RISK_WEIGHTS`; emotions other than negative ones are discounted."""
    signals = _signals(insight)
    note = ""
    if insight.get("emotion") and insight["emotion"] not in NEGATIVE_EMOTIONS:
        signals["emotion"] *= NON_NEGATIVE_EMOTION_RISK
        note = f"; emotion '{insight['emotion']}' is not negative, counted at {NON_NEGATIVE_EMOTION_RISK:.0%}"
    score, rationale = _weighted(insight, signals, RISK_WEIGHTS)
    return score, rationale + note


def evaluate_opportunities(
    synthesis: dict[str, Any], top_n: int = 5, *, scorer: Scorer = score_opportunity
) -> dict[str, Any]:
    """Rank insights by opportunity, best first.

    Args:
        synthesis: Output of :func:`tasks.analysis.synthesis.synthesize`.
        top_n: How many insights to return.
        scorer: Judge returning (score 0..100, rationale) for an insight.

    Returns:
        ``{"evaluation": "opportunity", "weights", "ranking": [{"insight", "title", "score", "rationale"}]}``.
    """
    return {
        "evaluation": "opportunity",
        "weights": dict(OPPORTUNITY_WEIGHTS),
        "ranking": _rank(synthesis, top_n, scorer),
    }


def evaluate_risks(
    synthesis: dict[str, Any], top_n: int = 5, *, scorer: Scorer = score_risk
) -> dict[str, Any]:
    """Rank insights by risk of leaving them alone, most urgent first.

    Args:
        synthesis: Output of :func:`tasks.analysis.synthesis.synthesize`.
        top_n: How many insights to return.
        scorer: Judge returning (score 0..100, rationale) for an insight.

    Returns:
        ``{"evaluation": "risk", "weights", "ranking": [{"insight", "title", "score", "rationale"}]}``.
    """
    return {"evaluation": "risk", "weights": dict(RISK_WEIGHTS), "ranking": _rank(synthesis, top_n, scorer)}


def _rank(synthesis: dict[str, Any], top_n: int, scorer: Scorer) -> list[dict[str, Any]]:
    ranking = []
    for insight in synthesis.get("insights") or []:
        score, rationale = scorer(insight)
        ranking.append(
            {
                "insight": insight.get("id"),
                "title": insight.get("title", ""),
                "score": round(max(0.0, min(100.0, float(score))), 1),
                "rationale": rationale,
            }
        )
    ranking.sort(key=lambda r: (-r["score"], str(r["insight"])))
    return ranking[:top_n]


def _signals(insight: dict[str, Any]) -> dict[str, float]:
    raw = insight.get("signals") or {}
    return {name: max(0.0, min(1.0, float(raw.get(name) or 0.0))) for name in SIGNALS}


def _weighted(
    insight: dict[str, Any], signals: dict[str, float], weights: Mapping[str, float]
) -> tuple[float, str]:
    score = 100.0 * sum(weights[name] * signals[name] for name in weights)
    terms = " + ".join(f"{name} {signals[name]:.2f}x{weights[name]:.2f}" for name in weights)
    strongest = max(weights, key=lambda name: (weights[name] * signals[name], name))
    quadrants = ", ".join(insight.get("quadrants") or []) or "none"
    return score, (
        f"100 x ({terms}) = {score:.1f}; strongest: {strongest}; "
        f"backed by {quadrants} with {len(insight.get('evidence') or [])} cited posts"
    )
