"""Per-item polarity: positive, negative or neutral, with a score in -1..1.

Interim: thresholds on ``text.sentiment``; replaced by the trained per-language model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from tasks.analysis.text import sentiment

Label = Literal["positive", "negative", "neutral"]
NEUTRAL_BAND = 0.2


@dataclass(frozen=True)
class Polarity:
    """An item's polarity: its label and a score in -1 (negative) .. 1 (positive)."""

    label: Label
    score: float


def polarity(text: str, lang: str) -> Polarity:
    """The polarity of one text in ``lang`` ("en" or "zh")."""
    score = sentiment(text, lang)
    label: Label = "positive" if score > NEUTRAL_BAND else "negative" if score < -NEUTRAL_BAND else "neutral"
    return Polarity(label, score)
