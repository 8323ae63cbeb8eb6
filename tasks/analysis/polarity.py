"""Per-item polarity: positive, negative or neutral, with a score in -1..1.

Each language has a model trained offline by ``devtools/train_polarity.py`` (which says where its data
came from) and shipped as JSON in ``data/polarity_<lang>.json.gz``: per feature its idf and weights.
A text's features (``polarity_features``: clause-scoped negation, degree and contrast, words, pairs
and character n-grams) are weighted by TF-IDF, the words and the n-grams each scaled to unit length,
and given to two logistic models:

- the *polar* model's probability of positive makes the score (``2p - 1``) and the label;
- the *subjectivity* model (English: the corpus has neutral tweets) calls a text neutral when it is
  at least ``NEUTRAL_CONFIDENCE`` sure; Chinese, whose corpus has no neutral texts, is neutral only
  when the text holds no known feature or its score is within ``NEUTRAL_BAND`` of 0.

The arithmetic is the few lines of scikit-learn's ``TfidfTransformer`` and ``LogisticRegression``
``predict_proba`` for one row, written out so that reading a model needs no pickle and scoring one
short text needs no sparse matrix.
"""

from __future__ import annotations

import gzip
import json
import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

from organism.errors import PermanentError
from tasks.analysis.polarity_features import CHAR_PREFIX, features
from tasks.analysis.sources import LANGUAGES

Label = Literal["positive", "negative", "neutral"]
DATA_DIR = Path(__file__).with_name("data")
NEUTRAL_CONFIDENCE = 0.9
NEUTRAL_BAND = 0.0


class PolarityUnavailable(PermanentError, ValueError):
    """No polarity model for a language, or its file is missing or unreadable."""


@dataclass(frozen=True)
class Polarity:
    """An item's polarity: its label and a score in -1 (negative) .. 1 (positive)."""

    label: Label
    score: float


@dataclass(frozen=True)
class Model:
    features: dict[str, list[float]]  # name -> [idf, polar weight, (neutral weight)]
    polar_intercept: float
    neutral_intercept: float | None


def polarity(text: str, lang: str) -> Polarity:
    """The polarity of one text in ``lang`` ("en" or "zh")."""
    model = _model(lang)
    weighted = _weighted(text, lang, model)
    if not weighted:
        return Polarity("neutral", 0.0)
    positive = _sigmoid(model.polar_intercept + sum(value * entry[1] for value, entry in weighted))
    score = round(2.0 * positive - 1.0, 4)
    if model.neutral_intercept is not None:
        neutral = _sigmoid(model.neutral_intercept + sum(value * entry[2] for value, entry in weighted))
        if neutral >= NEUTRAL_CONFIDENCE:
            return Polarity("neutral", score)
    elif abs(score) < NEUTRAL_BAND:
        return Polarity("neutral", score)
    return Polarity("positive" if score > 0 else "negative", score)


def _weighted(text: str, lang: str, model: Model) -> list[tuple[float, list[float]]]:
    """The text's known features as (TF-IDF value, model entry), words and n-grams each of unit length."""
    blocks: dict[bool, list[tuple[float, list[float]]]] = {True: [], False: []}
    for name, count in features(text, lang).items():
        if count > 0 and (entry := model.features.get(name)) is not None:
            blocks[name.startswith(CHAR_PREFIX)].append((count * entry[0], entry))
    weighted = []
    for block in blocks.values():
        norm = math.sqrt(sum(value * value for value, _ in block))
        weighted += [(value / norm, entry) for value, entry in block]
    return weighted


def model_path(lang: str) -> Path:
    return DATA_DIR / f"polarity_{lang}.json.gz"


def load_models() -> None:
    """Read every language's model now (once per worker process) rather than in the first task."""
    for lang in LANGUAGES:
        _model(lang)


def forget_models() -> None:
    """Drop the models read so far, so the next call reads the files again (after training)."""
    _model.cache_clear()


@cache
def _model(lang: str) -> Model:
    if lang not in LANGUAGES:
        raise PolarityUnavailable(f"polarity: no model for language {lang!r} (have {', '.join(LANGUAGES)})")
    path = model_path(lang)
    try:
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            doc = json.load(fh)
        intercepts = doc["intercepts"]
        return Model(doc["features"], float(intercepts["polar"]), intercepts.get("neutral"))
    except (OSError, EOFError, ValueError, KeyError, TypeError) as exc:
        raise PolarityUnavailable(
            f"polarity: cannot read the {lang} model {path} ({exc}); rebuild it with python -m devtools.train_polarity"
        ) from exc


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))
