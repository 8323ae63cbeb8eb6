"""Q3 trend scan: which topics are people talking about more now than before?

The current window's posts are compared with a baseline: the posts of the windows of the same
length just before it. Candidate phrases come from YAKE over all posts and over the current
window's alone (so that a topic that only just appeared is not drowned out), per language. A
phrase's growth is its share of the current window's posts over its share of the baseline's. The
baseline's count is scaled to the current window's number of posts and both counts get a small
pseudo-count, so a phrase going from 0 to 1 post is not infinite growth and a phrase as common as
before scores 1 whatever the two spans' sizes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from tasks.analysis.pain_points import group_by_overlap, label_group
from tasks.analysis.sources import Item
from tasks.analysis.text import (
    Doc,
    Keyword,
    extract_keywords,
    finding,
    make_docs,
)

PSEUDO_COUNT = 2.0
MIN_CURRENT = 3
MIN_GROWTH = 1.5
CANDIDATES_PER_LANG = 50


def scan_trends(current: list[Item], baseline: list[Item], top_n: int = 10) -> dict[str, Any]:
    """Find phrases whose share of posts grows from the baseline to the current window.

    Args:
        current: The dated items of the window being scanned.
        baseline: The dated items of the windows before it. With none, nothing can be said to
            rise, and no theme is reported.
        top_n: Maximum number of rising themes to return.

    Returns:
        ``{"quadrant": "q3", "items_scanned", "baseline", "note", "findings": [...]}`` with the
        current and baseline item counts, and a ``note`` saying why nothing could rise (else None);
        each finding's score is its growth factor and it also carries its ``current`` and
        ``baseline`` post counts.
    """
    result: dict[str, Any] = {
        "quadrant": "q3",
        "items_scanned": len(current),
        "baseline": len(baseline),
        "note": None,
        "findings": [],
    }
    if not baseline:
        result["note"] = "no items before the window to compare with, so no theme can be said to rise"
    elif not current:
        result["note"] = "no items in the window"
    if result["note"]:
        return result
    docs = make_docs([*current, *baseline])
    current_ids = {item.id for item in current}
    scale = len(current) / len(baseline)

    def growth(ids: set[str]) -> float:
        now = len(ids & current_ids)
        before = len(ids) - now
        return (now + PSEUDO_COUNT) / (before * scale + PSEUDO_COUNT)

    rising: list[tuple[Keyword, list[Doc]]] = []
    for keyword, matched in _candidates(docs, current_ids):
        ids = {doc.id for doc in matched}
        if len(ids & current_ids) >= MIN_CURRENT and growth(ids) >= MIN_GROWTH:
            rising.append((keyword, matched))
    rising.sort(key=lambda c: (-growth({d.id for d in c[1]}), c[0].weight, c[0].text))

    def _support(docs: Sequence[Doc]) -> float:
        ids = {doc.id for doc in docs}
        return growth(ids) * math.log1p(len(ids & current_ids))

    findings = []
    for group in group_by_overlap(rising):
        # The theme is named and measured by one phrase of the group, chosen for growth backed by
        # volume; a union with looser words ("battery" next to "battery drain") would mix in
        # unrelated older posts and flatten the growth.
        label, label_docs = label_group(group, strength=lambda c: _support(c[1]))
        ids = {doc.id for doc in label_docs}
        newest_first = sorted(label_docs, key=lambda d: (d.published, d.id), reverse=True)
        findings.append(
            finding(
                label.text,
                growth(ids),
                len(ids),
                [doc.id for doc in newest_first if doc.id in current_ids],
                [keyword.text for keyword, _ in group],
                current=len(ids & current_ids),
                baseline=len(ids - current_ids),
            )
        )
    findings.sort(key=lambda f: (-f["score"], f["theme"]))
    result["findings"] = findings[:top_n]
    return result


def _candidates(docs: list[Doc], current_ids: set[str]) -> list[tuple[Keyword, list[Doc]]]:
    """Candidate phrases per language with the docs that mention them, first occurrence wins."""
    out: dict[tuple[str, ...], tuple[Keyword, list[Doc]]] = {}
    for lang in ("en", "zh"):
        lang_docs = [doc for doc in docs if doc.lang == lang]
        current_docs = [doc for doc in lang_docs if doc.id in current_ids]
        for subset in (lang_docs, current_docs):
            for keyword in extract_keywords([doc.text for doc in subset], lang, top=CANDIDATES_PER_LANG):
                if keyword.tokens not in out:
                    out[keyword.tokens] = (keyword, [doc for doc in lang_docs if doc.has(keyword)])
    return list(out.values())

