"""Per-item polarity: positive, negative or neutral, with a score in -1..1.

Each language has a model trained offline by ``devtools/train_polarity.py`` (which says where its data
came from) and shipped in ``data/polarity_<lang>.npz``: NumPy arrays of the feature names and, per feature,
its idf and weights, read with ``allow_pickle=False``. A text's features (``polarity_features``:
clause-scoped negation, degree and contrast, words, pairs and character n-grams) are weighted by TF-IDF,
the words and the n-grams each scaled to unit length, and given to two logistic models:

- the *polar* model's probability of positive makes the score (``2p - 1``) and the label;
- the *subjectivity* model (English: the corpus has neutral tweets) calls a text neutral when it is
  at least ``NEUTRAL_CONFIDENCE`` sure; a Chinese text (the corpus has no neutral texts) is neutral only
  when it holds no feature the model knows.

The arithmetic is the few lines of scikit-learn's ``TfidfTransformer`` and ``LogisticRegression``
``predict_proba`` for one row, written out so that reading a model needs no pickle and scoring one
short text needs no sparse matrix.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

import numpy as np

from organism.errors import PermanentError
from tasks.analysis.polarity_features import CHAR_PREFIX, features
from tasks.analysis.sources import LANGUAGES

Label = Literal["positive", "negative", "neutral"]
DATA_DIR = Path(__file__).with_name("data")
NEUTRAL_CONFIDENCE = 0.9  # so that a polar item is seldom called neutral (docs/scans.md)


class PolarityUnavailable(PermanentError, ValueError):
    """No polarity model for a language, or its file is missing or unreadable."""


@dataclass(frozen=True)
class Polarity:
    """An item's polarity: its label and a score in -1 (negative) .. 1 (positive)."""

    label: Label
    score: float


@dataclass(frozen=True)
class Model:
    """One language's model as read from its file."""

    index: dict[str, int]  # feature name -> row of ``table``
    table: np.ndarray  # per feature: idf, polar weight, (neutral weight)
    is_char: np.ndarray  # per feature: a character n-gram (its own unit-length block)
    polar_intercept: float
    neutral_intercept: float | None


def polarity(text: str, lang: str) -> Polarity:
    """The polarity of one text in ``lang`` ("en" or "zh")."""
    model = _model(lang)
    known = [(model.index[name], count) for name, count in features(text, lang).items() if name in model.index]
    if not known:
        return Polarity("neutral", 0.0)
    rows = np.fromiter((row for row, _ in known), dtype=np.intp, count=len(known))
    values = np.fromiter((count for _, count in known), dtype=np.float64, count=len(known)) * model.table[rows, 0]
    for block in (model.is_char[rows], ~model.is_char[rows]):
        norm = np.linalg.norm(values[block])
        if norm:
            values[block] /= norm
    logits = values @ model.table[rows, 1:]
    score = round(2.0 * _sigmoid(model.polar_intercept + float(logits[0])) - 1.0, 4)
    subjective = (
        model.neutral_intercept is None or _sigmoid(model.neutral_intercept + float(logits[1])) < NEUTRAL_CONFIDENCE
    )
    if not subjective or score == 0:
        return Polarity("neutral", score)
    return Polarity("positive" if score > 0 else "negative", score)


def model_path(lang: str) -> Path:
    return DATA_DIR / f"polarity_{lang}.npz"


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
        with np.load(path, allow_pickle=False) as arrays:
            names, table, intercepts = arrays["names"].tolist(), arrays["table"], arrays["intercepts"]
    except (OSError, EOFError, ValueError, KeyError) as exc:
        raise PolarityUnavailable(
            f"polarity: cannot read the {lang} model {path} ({exc}); rebuild it with python -m devtools.train_polarity"
        ) from exc
    neutral = None if np.isnan(intercepts[1]) else float(intercepts[1])
    is_char = np.array([name.startswith(CHAR_PREFIX) for name in names])
    return Model(dict(zip(names, range(len(names)), strict=True)), table, is_char, float(intercepts[0]), neutral)


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))
