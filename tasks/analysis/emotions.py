"""Q2 emotion scan: how do the posts feel, item by item, and which emotions do they carry?

Every item gets a polarity (positive, negative or neutral, with a score in -1..1) from the trained
models in :mod:`tasks.analysis.polarity`; the scan reports each item's polarity and the shares of the
three. Emotions come on top of that:

English uses the NRC Emotion Lexicon through NRCLex. NRCLex's ``load_raw_text`` needs TextBlob
corpora (punkt, wordnet) that are not installed offline, so words are tokenized here and given
to ``load_token_list``, which only reads the lexicon bundled in the nrclex package. NRC words
whose sense is wrong in product talk ("battery" is tagged anger) are listed in
``data/nrc_neutral_en.txt`` and ignored. Chinese uses the small lexicon in ``data/emotions_zh.json``
with the same eight categories. NRC's "positive"/"negative" sentiment labels are left out: the
polarity model says that.

An emotion word in the negated part of a clause ("not happy", "不太满意") is not counted: negation
reaches over the clause, as in the polarity features. An emotion word whose valence contradicts
the item's polarity is not counted either: "joy" and "trust" in a negative item are almost always
sarcasm or a negated hope ("great, another delay"), and "anger", "disgust", "fear" and "sadness" in
a positive item a worry that was dispelled. "Surprise" and "anticipation" go either way and are kept.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from functools import lru_cache
from importlib import resources
from typing import Any

from tasks.analysis.polarity import Label, polarity
from tasks.analysis.polarity_features import affirmed
from tasks.analysis.sources import Item
from tasks.analysis.text import DATA_DIR, Doc, finding, make_docs, stem

EMOTIONS = ("anger", "anticipation", "disgust", "fear", "joy", "sadness", "surprise", "trust")
POSITIVE_EMOTIONS = frozenset(("joy", "trust"))
NEGATIVE_EMOTIONS = frozenset(("anger", "disgust", "fear", "sadness"))
POLARITIES: tuple[Label, ...] = ("positive", "negative", "neutral")
_ZH_NEGATED = "(?<![不没别未])"  # a negation inside a word jieba keeps whole ("不满意")
TOPIC_WORDS = 10
TRIGGER_WORDS = 6


def scan_emotions(items: list[Item], top_n: int = 10) -> dict[str, Any]:
    """Give every item its polarity and emotions, and find the posts and topics each emotion runs through.

    Args:
        items: Items to scan (any mix of English and Chinese).
        top_n: Maximum number of emotions to return as findings.

    Returns:
        ``{"quadrant": "q2", "items_scanned", "polarity": {label: share of items}, "items": [{"id",
        "polarity", "score", "emotions"}], "distribution": {emotion: share of all emotion words},
        "findings": [...], "note"}``. A finding's ``keywords`` are the topics most typical of the posts
        carrying that emotion; ``triggers`` are the emotion words that were matched; ``negative`` is
        the share of those posts whose polarity is negative. ``note`` says why there is nothing to
        report (else None).
    """
    docs = make_docs(items)
    polarities, hits = [], []
    for doc in docs:  # one document at a time, so that its clauses are cut once for both (see weighted_clauses)
        polarities.append(polarity(doc.text, doc.lang))
        hits.append(felt(emotion_words(doc.text, doc.lang), polarities[-1].label))
    labels = Counter(p.label for p in polarities)
    totals = Counter({emotion: sum(len(h.get(emotion, ())) for h in hits) for emotion in EMOTIONS})
    grand_total = sum(totals.values())
    distribution = {e: round(totals[e] / grand_total, 4) if grand_total else 0.0 for e in EMOTIONS}
    doc_freq = Counter(token for doc in docs for token in set(doc.tokens))
    negative = {doc.id for doc, p in zip(docs, polarities, strict=True) if p.label == "negative"}

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
                negative=round(sum(doc.id in negative for doc, _ in carriers) / len(carriers), 4),
            )
        )
    findings.sort(key=lambda f: (-f["score"], f["theme"]))
    return {
        "quadrant": "q2",
        "items_scanned": len(items),
        "polarity": {label: round(labels[label] / len(docs), 4) if docs else 0.0 for label in POLARITIES},
        "items": [
            {"id": doc.id, "polarity": p.label, "score": p.score, "emotions": sorted(h)}
            for doc, p, h in zip(docs, polarities, hits, strict=True)
        ],
        "distribution": distribution,
        "findings": findings[:top_n],
        "note": None if docs else "no items in the window",
    }


def felt(found: dict[str, list[str]], label: str) -> dict[str, list[str]]:
    """The emotions of an item whose valence does not contradict its polarity (see the module's note)."""
    contradicting = {"negative": POSITIVE_EMOTIONS, "positive": NEGATIVE_EMOTIONS}.get(label, frozenset())
    return {emotion: words for emotion, words in found.items() if emotion not in contradicting}


def emotion_words(text: str, lang: str) -> dict[str, list[str]]:
    """The emotion words found in a text, per emotion, in order of appearance, outside negated clause parts."""
    parts = affirmed(text, lang)
    if lang == "zh":
        joined = "，".join("".join(part) for part in parts)
        return {e: found for e, pattern in _zh_patterns().items() if (found := pattern.findall(joined))}
    from nrclex import NRCLex

    lexicon = _nrc_lexicon()
    matched = [lemma for part in parts for word in part if (lemma := _lemma(word, lexicon))]
    scorer = NRCLex(lexicon_file=None)
    scorer.load_token_list(matched)
    return {e: [w for w in matched if e in scorer.affect_dict[w]] for e in EMOTIONS if scorer.raw_emotion_scores.get(e)}


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
    counts = Counter(token for doc in docs for token in set(doc.tokens) if not _is_emotion_word(token, doc.lang))
    scored = {t: count * math.log(n_docs / doc_freq[t]) for t, count in counts.items() if count >= 2}
    return [token for token, _ in sorted(scored.items(), key=_by_count)[:TOPIC_WORDS]]


@lru_cache(maxsize=65536)
def _is_emotion_word(token: str, lang: str) -> bool:
    return bool(emotion_words(token, lang))


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
