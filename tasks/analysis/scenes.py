"""Q4 scene scan: in which situations do people use (or try to use) the products?

People mention the situation in a sentence of its own ("I do most of my writing on the train
commute", "夜班前点的"), so clustering whole posts mostly rediscovers the products. This scan
clusters sentences instead: TF-IDF over content words and adjacent word pairs (jieba words for
Chinese), factorised with NMF per language (Chinese and English share no vocabulary, so a joint
model only adds a catch-all cluster). NMF's NNDSVDA initialisation runs a randomised SVD, so its
seed is fixed: the same input always gives the same scenes. A post belongs to every scene one of
its sentences falls in; each scene is named after its heaviest terms.
"""

from __future__ import annotations

import re
from collections import defaultdict
from itertools import pairwise
from typing import Any

from tasks.analysis.sources import Item
from tasks.analysis.text import finding, make_docs, tokenize

_SENTENCE = re.compile(r"(?<=[.!?;。！？；])\s*")
MIN_SENTENCES_PER_LANG = 20
SENTENCES_PER_COMPONENT = 6
MIN_DF = 3
MAX_DF = 0.1  # of the sentences, but never fewer than MAX_DF_FLOOR of them
MAX_DF_FLOOR = 8
MIN_SHARE = 0.03
MIN_WEIGHT = 0.2  # of the component's strongest sentence
LABEL_TERMS = 3
SEED = 0
KEYWORD_TERMS = 8


def scan_scenes(items: list[Item], top_n: int = 8) -> dict[str, Any]:
    """Find up to ``top_n`` recurring situations, scored by the share of posts that mention them.

    Args:
        items: Items to scan (any mix of English and Chinese).
        top_n: Maximum number of scenes to return.

    Returns:
        ``{"quadrant": "q4", "items_scanned", "findings": [...]}``; a finding's score is the share
        of posts with a sentence in that scene, its examples are the posts that express it most
        clearly, and its keywords are the scene's heaviest terms.
    """
    docs = [doc for doc in make_docs(items) if doc.tokens]
    result: dict[str, Any] = {"quadrant": "q4", "items_scanned": len(items), "findings": []}
    sentences: dict[str, list[tuple[str, tuple[str, ...]]]] = defaultdict(list)
    for doc in docs:
        for sentence in _SENTENCE.split(doc.text):
            tokens = tokenize(sentence, doc.lang)
            if len(tokens) >= 2:
                sentences[doc.lang].append((doc.id, tokens))
    total = sum(len(rows) for rows in sentences.values())
    min_posts = max(3, round(MIN_SHARE * len(docs)))
    scenes = []
    for lang in sorted(sentences):
        rows = sentences[lang]
        # About two components per scene asked for: with fewer, small but distinct situations
        # ("family dinner") merge into big product topics; the weakest are dropped below. A few
        # sentences (one day's posts) cannot fill that many, so each gets SENTENCES_PER_COMPONENT.
        k = min(round((2 * top_n + 2) * len(rows) / total), len(rows) // SENTENCES_PER_COMPONENT)
        if len(rows) >= MIN_SENTENCES_PER_LANG and k >= 2:
            scenes += [s for s in _factorise(rows, k) if s["mentions"] >= min_posts]
    for scene in scenes:
        scene["score"] = round(scene["mentions"] / len(docs), 4)
    scenes.sort(key=lambda f: (-f["score"], f["theme"]))
    result["findings"] = scenes[:top_n]
    return result


def _factorise(rows: list[tuple[str, tuple[str, ...]]], k: int) -> list[dict[str, Any]]:
    """NMF over one language's sentences; one finding per component with the posts it covers."""
    from sklearn.decomposition import NMF
    from sklearn.feature_extraction.text import TfidfVectorizer

    # A scene's terms are in a few sentences, not in every tenth; in a small window (one day's posts) a
    # tenth is under MIN_DF, so the ceiling has a floor.
    max_df = max(MAX_DF, MAX_DF_FLOOR / len(rows))
    vectorizer = TfidfVectorizer(analyzer=_features, min_df=MIN_DF, max_df=max_df, sublinear_tf=True)
    try:
        matrix = vectorizer.fit_transform([tokens for _, tokens in rows])
    except ValueError:  # nothing left after min_df/max_df pruning
        return []
    k = min(k, matrix.shape[1])
    model = NMF(n_components=k, init="nndsvda", max_iter=400, random_state=SEED)
    weights = model.fit_transform(matrix)
    terms = vectorizer.get_feature_names_out()
    strongest: list[dict[str, float]] = [{} for _ in range(k)]
    # Every sentence has some argmax; only those clearly in a component count as mentioning it,
    # otherwise the component that absorbs the leftovers becomes a meaningless catch-all.
    floor = MIN_WEIGHT * weights.max(axis=0)
    for row, (doc_id, _) in enumerate(rows):
        component = int(weights[row].argmax())
        if weights[row, component] > max(floor[component], 0.0):
            best = strongest[component]
            best[doc_id] = max(best.get(doc_id, 0.0), float(weights[row, component]))
    out = []
    for component, posts in enumerate(strongest):
        if not posts:
            continue
        loading = model.components_[component]
        top = [str(terms[j]) for j in sorted(range(len(terms)), key=lambda j: (-loading[j], terms[j]))]
        ranked = sorted(posts, key=lambda p: (-posts[p], p))
        out.append(finding(_label(top), 0.0, len(posts), ranked, top[:KEYWORD_TERMS]))
    return out


def _label(terms: list[str]) -> str:
    """Join the first distinct terms: "offline mode" replaces "offline" and hides a later "mode"."""
    chosen: list[str] = []
    for term in terms:
        words = set(term.split())
        if any(words <= set(c.split()) for c in chosen):
            continue
        covered = [i for i, c in enumerate(chosen) if set(c.split()) <= words]
        if covered:  # a pair replaces the single words it contains, in the first one's place
            chosen = [c for i, c in enumerate(chosen) if i not in covered]
            chosen.insert(covered[0], term)
        else:
            chosen.append(term)
        if len(chosen) == LABEL_TERMS:
            break
    return " / ".join(chosen)


def _features(tokens: tuple[str, ...]) -> list[str]:
    """Content words plus adjacent pairs, so "night shift" and "family dinner" count as units."""
    return list(tokens) + [f"{a} {b}" for a, b in pairwise(tokens)]
