"""Q2 emotion scan: which emotions do the posts carry, and what are they about?

English uses the NRC Emotion Lexicon through NRCLex. NRCLex's ``load_raw_text`` needs TextBlob
corpora (punkt, wordnet) that are not installed offline, so words are tokenized here and given
to ``load_token_list``, which only reads the lexicon bundled in the nrclex package. NRC words
whose sense is wrong in product talk ("battery" is tagged anger) are listed in
``data/nrc_neutral_en.txt`` and ignored, and a word up to two words after "not"/"never"/"...n't" is skipped.
Chinese uses the small lexicon in ``data/emotions_zh.json`` with the same eight categories.
NRC's "positive"/"negative" sentiment labels are left out: this scan is about emotions.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from functools import lru_cache
from importlib import resources
from typing import Any

from tasks.analysis.sources import Item
from tasks.analysis.text import DATA_DIR, Doc, finding, make_docs, stem, words

EMOTIONS = ("anger", "anticipation", "disgust", "fear", "joy", "sadness", "surprise", "trust")
_NEGATORS = frozenset(("not", "no", "never", "without", "hardly"))
_ZH_NEGATED = "(?<![不没别未])"
TOPIC_WORDS = 10
TRIGGER_WORDS = 6


def scan_emotions(items: list[Item], top_n: int = 10) -> dict[str, Any]:
    """Measure the emotion mix and, per emotion, the posts and topics that carry it most.

    Args:
        items: Items to scan (any mix of English and Chinese).
        top_n: Maximum number of emotions to return as findings.

    Returns:
        ``{"quadrant": "q2", "items_scanned", "distribution": {emotion: share of all emotion
        words}, "findings": [...]}``. A finding's ``keywords`` are the topics most typical of the
        posts carrying that emotion; ``triggers`` are the emotion words that were matched.
    """
    docs = make_docs(items)
    hits = [emotion_words(doc.text, doc.lang) for doc in docs]
    totals = Counter({emotion: sum(len(h.get(emotion, ())) for h in hits) for emotion in EMOTIONS})
    grand_total = sum(totals.values())
    distribution = {e: round(totals[e] / grand_total, 4) if grand_total else 0.0 for e in EMOTIONS}
    doc_freq = Counter(token for doc in docs for token in set(doc.tokens))

    findings = []
    for emotion in EMOTIONS:
        carriers = [(doc, h[emotion]) for doc, h in zip(docs, hits, strict=True) if h.get(emotion)]
        if not carriers:
            continue
        carriers.sort(key=lambda c: (-len(c[1]), c[0].id))
        triggers = Counter(word for _, found in carriers for word in found)
        findings.append(
            finding(
                emotion,
                distribution[emotion],
                len(carriers),
                [doc.id for doc, _ in carriers],
                _topics([doc for doc, _ in carriers], doc_freq, len(docs)),
                triggers=[word for word, _ in sorted(triggers.items(), key=_by_count)[:TRIGGER_WORDS]],
            )
        )
    findings.sort(key=lambda f: (-f["score"], f["theme"]))
    return {
        "quadrant": "q2",
        "items_scanned": len(items),
        "distribution": distribution,
        "findings": findings[:top_n],
    }


def emotion_words(text: str, lang: str) -> dict[str, list[str]]:
    """The emotion words found in a text, per emotion, in order of appearance."""
    if lang == "zh":
        return {e: found for e, pattern in _zh_patterns().items() if (found := pattern.findall(text))}
    from nrclex import NRCLex

    lexicon = _nrc_lexicon()
    tokens = words(text, "en")
    matched = []
    for i, word in enumerate(tokens):
        lemma = _lemma(word, lexicon)
        if lemma and not any(t in _NEGATORS or t.endswith("n't") for t in tokens[max(0, i - 2) : i]):
            matched.append(lemma)
    scorer = NRCLex(lexicon_file=None)
    scorer.load_token_list(matched)
    return {
        e: [w for w in matched if e in scorer.affect_dict[w]]
        for e in EMOTIONS
        if scorer.raw_emotion_scores.get(e)
    }


def _lemma(word: str, lexicon: dict[str, list[str]]) -> str | None:
    """The lexicon entry for a word, trying a few inflections ("crashed" -> "crash")."""
    candidates = [word, stem(word)]
    if word.endswith("ed"):
        candidates += [word[:-2], word[:-1]]
    if word.endswith("ing"):
        candidates += [word[:-3], word[:-3] + "e"]
    for candidate in candidates:
        if candidate in lexicon and candidate not in _domain_neutral():
            return candidate
    return None


def _topics(docs: list[Doc], doc_freq: Counter[str], n_docs: int) -> list[str]:
    """Non-emotion words typical of these docs: frequent among them, rare overall (tf-idf on doc counts)."""
    counts = Counter(token for doc in docs for token in set(doc.tokens) if not emotion_words(token, doc.lang))
    scored = {t: count * math.log(n_docs / doc_freq[t]) for t, count in counts.items() if count >= 2}
    return [token for token, _ in sorted(scored.items(), key=_by_count)[:TOPIC_WORDS]]


def _by_count(entry: tuple[str, float]) -> tuple[float, str]:
    """Sort key for (word, weight) pairs: heaviest first, then alphabetical for a stable order."""
    return -entry[1], entry[0]


@lru_cache(maxsize=1)
def _domain_neutral() -> frozenset[str]:
    """NRC words whose emotion is wrong in product talk ("battery" is not anger), from data/."""
    lines = (DATA_DIR / "nrc_neutral_en.txt").read_text(encoding="utf-8").splitlines()
    return frozenset(word for line in lines if not line.startswith("#") for word in line.split())


@lru_cache(maxsize=1)
def _nrc_lexicon() -> dict[str, list[str]]:
    with resources.files("nrclex.data").joinpath("nrc_en.json").open("r", encoding="utf-8") as fh:
        lexicon: dict[str, list[str]] = json.load(fh)
    return lexicon


@lru_cache(maxsize=1)
def _zh_patterns() -> dict[str, re.Pattern[str]]:
    data = json.loads((DATA_DIR / "emotions_zh.json").read_text(encoding="utf-8"))
    patterns = {}
    for emotion in EMOTIONS:
        # Longest first, so "真的很烦" is matched whole rather than as a shorter entry inside it.
        alternatives = "|".join(map(re.escape, sorted(data[emotion], key=len, reverse=True)))
        patterns[emotion] = re.compile(f"{_ZH_NEGATED}(?:{alternatives})")
    return patterns
