"""Q3 trend scan: which topics are people talking about more in the recent half of the period?

The dated items are split at the midpoint of their time span. Candidate phrases come from YAKE
over all items and over the recent half alone (so that a topic that only just appeared is not
drowned out), per language. Each phrase's share of posts in the recent half is compared with
its share in the earlier half, with a small pseudo-count so that a phrase going from 0 to 1
post is not reported as infinite growth.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
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
MIN_RECENT = 3
MIN_GROWTH = 1.5
CANDIDATES_PER_LANG = 50


def scan_trends(items: list[Item], top_n: int = 10) -> dict[str, Any]:
    """Find phrases whose share of posts grows from the earlier to the recent half of the window.

    Args:
        items: Items to scan; items without a publication date are counted but not used.
        top_n: Maximum number of rising themes to return.

    Returns:
        ``{"quadrant": "q3", "items_scanned", "window": {"start", "split", "end"}, "undated",
        "findings": [...]}``; each finding's score is its growth factor (recent share over earlier
        share, smoothed) and it also carries its ``early`` and ``recent`` post counts.
    """
    # Naive timestamps are read as UTC so they can be compared with zone-aware ones.
    when = {
        item.id: item.published if item.published.tzinfo else item.published.replace(tzinfo=UTC)
        for item in items
        if item.published is not None
    }
    docs = [doc for doc in make_docs(items) if doc.id in when]
    result: dict[str, Any] = {
        "quadrant": "q3",
        "items_scanned": len(items),
        "window": None,
        "undated": len(items) - len(docs),
        "findings": [],
    }
    if len(docs) < 2:
        return result
    start, end = min(when.values()), max(when.values())
    split = start + (end - start) / 2
    recent_ids = {doc.id for doc in docs if when[doc.id] >= split}
    n_recent, n_early = len(recent_ids), len(docs) - len(recent_ids)
    result["window"] = {"start": _iso(start), "split": _iso(split), "end": _iso(end)}
    if not n_recent or not n_early:
        return result

    def growth(ids: set[str]) -> float:
        recent = len(ids & recent_ids)
        early = len(ids) - recent
        recent_share = (recent + PSEUDO_COUNT) / (n_recent + 2 * PSEUDO_COUNT)
        early_share = (early + PSEUDO_COUNT) / (n_early + 2 * PSEUDO_COUNT)
        return recent_share / early_share

    rising: list[tuple[Keyword, list[Doc]]] = []
    for keyword, matched in _candidates(docs, recent_ids):
        ids = {doc.id for doc in matched}
        if len(ids & recent_ids) >= MIN_RECENT and growth(ids) >= MIN_GROWTH:
            rising.append((keyword, matched))
    rising.sort(key=lambda c: (-growth({d.id for d in c[1]}), c[0].weight, c[0].text))

    def _support(docs: Sequence[Doc]) -> float:
        ids = {doc.id for doc in docs}
        return growth(ids) * math.log1p(len(ids & recent_ids))

    findings = []
    for group in group_by_overlap(rising):
        # The theme is named and measured by one phrase of the group, chosen for growth backed by
        # volume; a union with looser words ("battery" next to "battery drain") would mix in
        # unrelated older posts and flatten the growth.
        label, label_docs = label_group(group, strength=lambda c: _support(c[1]))
        ids = {doc.id for doc in label_docs}
        newest_first = sorted(label_docs, key=lambda d: (when[d.id], d.id), reverse=True)
        findings.append(
            finding(
                label.text,
                growth(ids),
                len(ids),
                [doc.id for doc in newest_first if doc.id in recent_ids],
                [keyword.text for keyword, _ in group],
                early=len(ids - recent_ids),
                recent=len(ids & recent_ids),
            )
        )
    findings.sort(key=lambda f: (-f["score"], f["theme"]))
    result["findings"] = findings[:top_n]
    return result


def _candidates(docs: list[Doc], recent_ids: set[str]) -> list[tuple[Keyword, list[Doc]]]:
    """Candidate phrases per language with the docs that mention them, first occurrence wins."""
    out: dict[tuple[str, ...], tuple[Keyword, list[Doc]]] = {}
    for lang in ("en", "zh"):
        lang_docs = [doc for doc in docs if doc.lang == lang]
        recent_docs = [doc for doc in lang_docs if doc.id in recent_ids]
        for subset in (lang_docs, recent_docs):
            for keyword in extract_keywords([doc.text for doc in subset], lang, top=CANDIDATES_PER_LANG):
                if keyword.tokens not in out:
                    out[keyword.tokens] = (keyword, [doc for doc in lang_docs if doc.has(keyword)])
    return list(out.values())


def _iso(moment: datetime) -> str:
    return moment.isoformat()
