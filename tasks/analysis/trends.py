"""Q3 trend scan: which themes do people talk about more, or less, now than before?

The current window's posts are compared with a baseline: the posts of the windows of the same
length just before it.

Candidates are chosen without looking at which span a post fell in: per language, the content
words and two-word phrases (adjacent tokens of :func:`~tasks.analysis.text.tokenize`) mentioned by
at least :data:`MIN_POSTS` posts of both spans together, the :data:`CANDIDATES_PER_LANG` most
mentioned. Choosing them from the window alone would favour what happens to be frequent in it and
so report rises that are noise.

If a candidate's share of posts did not change, each of the n posts that mention it is in the
window with probability p = the window's posts / the posts of both spans (of the candidate's
language, so that a language gaining posts does not make all its words rise). The number of them
in the window is compared with Binomial(n, p) by a two-sided exact binomial test
(:func:`scipy.stats.binomtest`), and the p-values are adjusted by Holm's step-down method, which
bounds the chance of reporting any false theme by :data:`ALPHA` (the family-wise error rate). A
candidate whose adjusted p-value is below :data:`ALPHA` is *rising* when its share grew, *new* when
no baseline post mentioned it, and *fading* when its share shrank. Significant candidates of one
direction that mostly the same posts mention are reported as one theme.

Holm rather than Benjamini-Hochberg: one real theme makes many phrases significant ("会员", "应用",
"会员应用", "退出登录"...), and the false discovery rate, a share of those, then lets an unrelated
chance phrase through. With a theme planted into real posts, Benjamini-Hochberg also reported a
false theme in 6 runs of 20, Holm in none, and both found the planted theme about as often.

Only the candidates that could be significant are tested (Tarone's screen): when the window has a
quarter of the posts, a phrase in 6 posts cannot reach p < 0.0002 however they fall, and counting
it would only make the correction stricter for the others. Which can is a matter of n and p alone,
not of how the posts fell (R. E. Tarone, "A modified Bonferroni method for discrete data",
Biometrics 46, 1990).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from itertools import chain, pairwise
from typing import Any

import numpy as np
from scipy.stats import binom, binomtest

from tasks.analysis.grouping import group_by_overlap
from tasks.analysis.sources import Item
from tasks.analysis.text import Doc, Keyword, finding, make_docs

ALPHA = 0.05
MIN_POSTS = 5
CANDIDATES_PER_LANG = 1000  # the most mentioned; bounds the work and the correction on large inputs
TEST = (
    "two-sided exact binomial test (scipy binomtest) of each theme's posts in the window out of its posts in both"
    " spans, p = the window's share of the posts in the theme's language; Holm correction over the themes that"
    f" could be significant (Tarone's screen); alpha {ALPHA} on the adjusted p"
)

Gram = tuple[str, ...]


@dataclass(frozen=True)
class _Candidate:
    """A candidate phrase: its posts in each span, its growth and, once tested, its p-values."""

    keyword: Keyword  # its weight is unused: candidates are not ranked by YAKE
    lang: str
    current: int
    baseline: int
    share: float  # the window's share of the posts in its language: the test's p
    growth: float
    p: float = 1.0  # exact; for a phrase that cannot be significant, a lower bound above ALPHA
    adjusted_p: float = 1.0
    docs: tuple[Doc, ...] = ()  # the posts that mention it, the window's first; looked up once significant

    @property
    def direction(self) -> str:
        if self.growth < 1:
            return "fading"
        return "rising" if self.baseline else "new"


def scan_trends(current: list[Item], baseline: list[Item], top_n: int = 10) -> dict[str, Any]:
    """Find the themes whose share of posts changed significantly from the baseline to the current window.

    Args:
        current: The dated items of the window being scanned.
        baseline: The dated items of the windows before it. With none, nothing can be said to
            rise, and no theme is reported.
        top_n: Maximum number of rising (and of fading) themes to return.

    Returns:
        ``{"quadrant": "q3", "items_scanned", "baseline", "note", "test", "tested", "findings",
        "fading"}``: the current and baseline item counts; a ``note`` saying why no theme is reported
        as rising (else None); the test applied and the number of phrases it was applied to; the
        rising and new themes and the fading ones, the most significant first (then the largest
        change), as a few posts more or less make a small theme's growth look large. Each
        theme's ``score`` is its growth: its share of the window's posts over its share of the
        baseline's (for a new theme, the growth had one baseline post mentioned it). It also carries
        its ``current`` and ``baseline`` post counts, its ``p`` and ``adjusted_p``, and its
        ``direction`` ("rising", "new" or "fading").
    """
    result: dict[str, Any] = {
        "quadrant": "q3",
        "items_scanned": len(current),
        "baseline": len(baseline),
        "note": None,
        "test": TEST,
        "tested": 0,
        "findings": [],
        "fading": [],
    }
    if not baseline:
        result["note"] = "no items before the window to compare with, so no theme can be said to rise"
        return result
    if not current:
        result["note"] = "no items in the window"
        return result
    now, before = make_docs(current), make_docs(baseline)
    candidates = [
        c
        for lang in ("en", "zh")
        for c in _candidates(lang, [d for d in now if d.lang == lang], [d for d in before if d.lang == lang])
    ]
    tested = _test(_testable(candidates))
    significant = [
        replace(t, docs=tuple(d for d in (*now, *before) if d.lang == t.lang and d.has(t.keyword)))
        for t in sorted((t for t in tested if t.adjusted_p < ALPHA), key=lambda t: (t.adjusted_p, t.p, t.keyword.text))
    ]
    rising = _themes([t for t in significant if t.growth > 1])
    fading = _themes([t for t in significant if t.growth < 1])
    result["tested"] = len(tested)
    result["findings"] = sorted(rising, key=lambda f: (f["adjusted_p"], -f["score"], f["theme"]))[:top_n]
    result["fading"] = sorted(fading, key=lambda f: (f["adjusted_p"], f["score"], f["theme"]))[:top_n]
    if not rising:
        result["note"] = (
            f"no theme's share of posts rose significantly ({len(tested)} tested)"
            if tested
            else "no word or phrase is in enough posts to be tested"
        )
    return result


def _candidates(lang: str, now: Sequence[Doc], before: Sequence[Doc]) -> list[_Candidate]:
    """One language's candidate phrases, chosen from both spans together, with their posts in each."""
    if not now or not before:
        return []
    grams = [_grams(doc.tokens) for doc in (*now, *before)]
    now_counts = Counter(chain.from_iterable(grams[: len(now)]))
    counts = now_counts + Counter(chain.from_iterable(grams[len(now) :]))
    chosen = sorted((g for g, n in counts.items() if n >= MIN_POSTS), key=lambda g: (-counts[g], g))
    share = len(now) / (len(now) + len(before))
    return [
        _Candidate(
            keyword=Keyword(_display(gram), gram, 0.0),
            lang=lang,
            current=now_counts[gram],
            baseline=counts[gram] - now_counts[gram],
            share=share,
            growth=(now_counts[gram] / len(now)) / (max(counts[gram] - now_counts[gram], 1) / len(before)),
        )
        for gram in chosen[:CANDIDATES_PER_LANG]
    ]


def _testable(candidates: list[_Candidate]) -> list[_Candidate]:
    """Tarone's screen: the candidates whose smallest attainable p-value is at most ALPHA / K.

    K is the smallest number such that at most K candidates pass. The binomial's probabilities fall
    away from its mode on both sides, so the smallest two-sided p-value for n posts is the chance of
    the less likely extreme, all n in the window or all in the baseline: min(p, 1 - p) ** n. No
    maintained library implements the screen; it is a few lines.
    """
    if not candidates:
        return []
    smallest = np.array([min(c.share, 1 - c.share) ** (c.current + c.baseline) for c in candidates])
    ordered = np.sort(smallest)
    k = next(k for k in range(1, len(candidates) + 1) if np.searchsorted(ordered, ALPHA / k, side="right") <= k)
    return [c for c, p in zip(candidates, smallest.tolist(), strict=True) if p <= ALPHA / k]


def _test(candidates: list[_Candidate]) -> list[_Candidate]:
    """The candidates with their binomial test's p-value and its adjustment by Holm's step-down method."""
    if not candidates:
        return []
    k = np.array([c.current for c in candidates])
    n = np.array([c.current + c.baseline for c in candidates])
    share = np.array([c.share for c in candidates])
    # A two-sided p-value is at least the smaller one-sided tail, so a phrase whose tails both exceed ALPHA
    # cannot be significant, whatever the correction; its exact p-value, which would change no significant
    # phrase's adjusted p, is not worth binomtest's millisecond. The tails of all phrases take one vectorised call.
    tails = np.minimum(binom.cdf(k, n, share), binom.sf(k - 1, n, share)).tolist()
    tested = [
        replace(c, p=float(binomtest(c.current, c.current + c.baseline, c.share).pvalue) if tail <= ALPHA else tail)
        for c, tail in zip(candidates, tails, strict=True)
    ]
    return [replace(c, adjusted_p=q) for c, q in zip(tested, _holm([c.p for c in tested]), strict=True)]


def _holm(p: list[float]) -> list[float]:
    """Holm's step-down adjusted p-values: the k-th smallest times (m - k + 1), kept non-decreasing, at most 1.

    Written out because scipy adjusts only for the false discovery rate, and statsmodels, which has it, is not
    a dependency for three lines.
    """
    values = np.asarray(p, dtype=float)
    order = np.argsort(values, kind="stable")
    adjusted = np.empty_like(values)
    adjusted[order] = np.minimum(1.0, np.maximum.accumulate((len(values) - np.arange(len(values))) * values[order]))
    return adjusted.tolist()


def _grams(tokens: tuple[str, ...]) -> set[Gram]:
    """The words and two-word phrases of a document, as :meth:`Doc.has` would find them."""
    return {*zip(tokens), *pairwise(tokens)}


def _display(gram: Gram) -> str:
    """Chinese words are written together, anything else with spaces."""
    return "".join(gram) if all(not w.isascii() for w in gram) else " ".join(gram)


def _themes(tested: list[_Candidate]) -> list[dict[str, Any]]:
    """One finding per group of significant phrases (most significant first) that share their posts."""
    findings = []
    for group in group_by_overlap(tested, lambda t: {doc.id for doc in t.docs}):
        label = _label(group)
        newest_first = sorted(
            label.docs[: label.current], key=lambda d: (d.published.timestamp() if d.published else 0.0, d.id)
        )[::-1]
        findings.append(
            finding(
                label.keyword.text,
                label.growth,
                label.current + label.baseline,
                [doc.id for doc in newest_first],
                [t.keyword.text for t in group],
                current=label.current,
                baseline=label.baseline,
                p=_rounded(label.p),
                adjusted_p=_rounded(label.adjusted_p),
                direction=label.direction,
            )
        )
    return findings


def _label(group: list[_Candidate]) -> _Candidate:
    """The group's most significant phrase, or its most significant two-word one with half its posts or more.

    "battery drain" says more than "drain", so a phrase is preferred unless it is much rarer.
    """
    leader = group[0]
    phrases = [t for t in group if len(t.keyword.tokens) > 1 and 2 * len(t.docs) >= len(leader.docs)]
    return phrases[0] if phrases else leader


def _rounded(p: float) -> float:
    """Three significant digits: enough to read, and the same in every process."""
    return float(f"{p:.3g}")
