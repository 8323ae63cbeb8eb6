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

:func:`scan_themes` applies the same test to themes named elsewhere (the model path names them with the
keywords that find their posts): a theme is tested once per language, against the posts of that language
that have one of its keywords, in place of the phrases chosen here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import chain, pairwise
from typing import Any

import numpy as np

from tasks.analysis.grouping import group_by_overlap
from tasks.analysis.sources import LANGUAGES, Item
from tasks.analysis.text import Doc, Keyword, detect_lang, finding, make_docs, tokenize

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
    """A candidate theme: its posts in each span, its growth and, once tested, its p-values."""

    name: str
    keywords: tuple[Keyword, ...]  # a post mentions the theme if it has one; their weight is unused
    lang: str
    current: int
    baseline: int
    share: float  # the window's share of the posts in its language: the test's p
    growth: float
    p: float = 1.0  # exact; for a phrase that cannot be significant, a lower bound above ALPHA
    adjusted_p: float = 1.0
    docs: tuple[Doc, ...] = ()  # the posts that mention it, the window's first; a phrase's looked up once significant

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
    result = _result(current, baseline)
    if result["note"]:
        return result
    now, before = make_docs(current), make_docs(baseline)
    tested = _test(_testable([c for lang in LANGUAGES for c in _candidates(*_spans(lang, now, before))]))
    significant = [
        replace(t, docs=_mentioning((d for d in (*now, *before) if d.lang == t.lang), t.keywords))
        for t in _significant(tested)
    ]
    rising = _themes([t for t in significant if t.growth > 1])
    fading = _themes([t for t in significant if t.growth < 1])
    return _report(result, len(tested), rising, fading, top_n)


def scan_themes(
    current: list[Item], baseline: list[Item], themes: Mapping[str, Sequence[str]], top_n: int = 10
) -> dict[str, Any]:
    """:func:`scan_trends`'s test applied to named themes instead of the phrases it chooses.

    Args:
        current: The dated items of the window being scanned.
        baseline: The dated items of the windows before it.
        themes: Each theme's name and the words or phrases, in any language, that find the posts about it
            (matched on tokens, as the scans match their phrases).
        top_n: Maximum number of rising (and of fading) themes to return.

    Returns:
        :func:`scan_trends`'s result, each finding a theme in one language, its ``keywords`` those that found
        its posts there (a theme that changed in both languages is two findings), plus ``unsupported``: the
        themes whose change in no language is significant, each with its ``keywords``, its ``current`` and
        ``baseline`` post counts in all languages, and the smallest ``adjusted_p`` of its tests (None when it
        is in too few posts to be tested).
    """
    keywords = {name: _keywords(words) for name, words in themes.items()}
    result = _result(current, baseline)
    now, before = make_docs(current), make_docs(baseline)
    tested = (
        []
        if result["note"]
        else _test(_testable([c for lang in LANGUAGES for c in _named(keywords, *_spans(lang, now, before))]))
    )
    significant = [(t, _finding(t, [k.text for k in t.keywords])) for t in _significant(tested)]
    if not result["note"]:
        rising, fading = [f for t, f in significant if t.growth > 1], [f for t, f in significant if t.growth < 1]
        result = _report(result, len(tested), rising, fading, top_n)
    supported = {t.name for t, _ in significant}
    result["unsupported"] = [
        {
            "theme": name,
            "keywords": list(themes[name]),
            "current": len(_mentioning(now, words)),
            "baseline": len(_mentioning(before, words)),
            "adjusted_p": min((_rounded(t.adjusted_p) for t in tested if t.name == name), default=None),
        }
        for name, words in keywords.items()
        if name not in supported
    ]
    return result


def _result(current: list[Item], baseline: list[Item]) -> dict[str, Any]:
    """A result with nothing found yet; its ``note`` says why nothing can be, if a span is empty."""
    note = (
        "no items before the window to compare with, so no theme can be said to rise"
        if not baseline
        else "no items in the window"
        if not current
        else None
    )
    return {
        "quadrant": "q3",
        "items_scanned": len(current),
        "baseline": len(baseline),
        "note": note,
        "test": TEST,
        "tested": 0,
        "findings": [],
        "fading": [],
    }


def _report(
    result: dict[str, Any], tested: int, rising: list[dict[str, Any]], fading: list[dict[str, Any]], top_n: int
) -> dict[str, Any]:
    """The result with the themes found, the most significant first (then the largest change), and its note."""
    note = None
    if not rising:
        note = (
            f"no theme's share of posts rose significantly ({tested} tested)"
            if tested
            else "no word or phrase is in enough posts to be tested"
        )
    return {
        **result,
        "note": note,
        "tested": tested,
        "findings": sorted(rising, key=lambda f: (f["adjusted_p"], -f["score"], f["theme"]))[:top_n],
        "fading": sorted(fading, key=lambda f: (f["adjusted_p"], f["score"], f["theme"]))[:top_n],
    }


def _spans(lang: str, now: Sequence[Doc], before: Sequence[Doc]) -> tuple[str, list[Doc], list[Doc]]:
    """One language's documents of the window and of the baseline."""
    return lang, [d for d in now if d.lang == lang], [d for d in before if d.lang == lang]


def _candidates(lang: str, now: Sequence[Doc], before: Sequence[Doc]) -> list[_Candidate]:
    """One language's candidate phrases, chosen from both spans together, with their posts in each."""
    if not now or not before:
        return []
    grams = [_grams(doc.tokens) for doc in (*now, *before)]
    now_counts = Counter(chain.from_iterable(grams[: len(now)]))
    counts = now_counts + Counter(chain.from_iterable(grams[len(now) :]))
    chosen = sorted((g for g, n in counts.items() if n >= MIN_POSTS), key=lambda g: (-counts[g], g))
    return [
        _candidate(
            _display(gram),
            (Keyword(_display(gram), gram, 0.0),),
            lang,
            (now_counts[gram], counts[gram] - now_counts[gram]),
            (len(now), len(before)),
        )
        for gram in chosen[:CANDIDATES_PER_LANG]
    ]


def _named(
    themes: Mapping[str, Sequence[Keyword]], lang: str, now: Sequence[Doc], before: Sequence[Doc]
) -> list[_Candidate]:
    """One language's candidates for named themes: those whose keywords it has, with those keywords and its posts."""
    if not now or not before:
        return []
    named = []
    for name, keywords in themes.items():
        found = tuple(k for k in keywords if _mentioning((*now, *before), (k,)))
        if found:
            current, previous = _mentioning(now, found), _mentioning(before, found)
            posts = (len(current), len(previous))
            named.append(_candidate(name, found, lang, posts, (len(now), len(before)), current + previous))
    return named


def _candidate(
    name: str,
    keywords: tuple[Keyword, ...],
    lang: str,
    posts: tuple[int, int],
    spans: tuple[int, int],
    docs: tuple[Doc, ...] = (),
) -> _Candidate:
    """A theme to test: its ``posts`` in the window and the baseline, which have ``spans`` posts of its language.

    Its growth is its share of the window's posts over its share of the baseline's, as if one baseline post
    mentioned it when none does.
    """
    (current, baseline), (now, before) = posts, spans
    return _Candidate(
        name=name,
        keywords=keywords,
        lang=lang,
        current=current,
        baseline=baseline,
        share=now / (now + before),
        growth=(current / now) / (max(baseline, 1) / before),
        docs=docs,
    )


def _keywords(words: Sequence[str]) -> tuple[Keyword, ...]:
    """Words or phrases as the scans match them: tokenized as their language is, those of no content word left out."""
    return tuple(Keyword(w, tokens, 0.0) for w in words if (tokens := tokenize(w, detect_lang(w))))


def _mentioning(docs: Iterable[Doc], keywords: Sequence[Keyword]) -> tuple[Doc, ...]:
    """The documents that have one of the keywords, in their order."""
    return tuple(d for d in docs if any(d.has(k) for k in keywords))


def _significant(tested: list[_Candidate]) -> list[_Candidate]:
    """The candidates whose adjusted p-value is below ALPHA, the most significant first."""
    return sorted((t for t in tested if t.adjusted_p < ALPHA), key=lambda t: (t.adjusted_p, t.p, t.name))


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
    # Imported here: scipy.stats takes a second to import, which every process loading the skills would pay.
    from scipy.stats import binom, binomtest

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
    return [
        _finding(_label(group), [t.name for t in group])
        for group in group_by_overlap(tested, lambda t: {doc.id for doc in t.docs})
    ]


def _finding(theme: _Candidate, keywords: list[str]) -> dict[str, Any]:
    """A significant theme as a finding: its growth, posts, p-values and direction, its window's posts newest first."""
    newest_first = sorted(
        theme.docs[: theme.current], key=lambda d: (d.published.timestamp() if d.published else 0.0, d.id)
    )[::-1]
    return finding(
        theme.name,
        theme.growth,
        theme.current + theme.baseline,
        [doc.id for doc in newest_first],
        keywords,
        current=theme.current,
        baseline=theme.baseline,
        p=_rounded(theme.p),
        adjusted_p=_rounded(theme.adjusted_p),
        direction=theme.direction,
    )


def _label(group: list[_Candidate]) -> _Candidate:
    """The group's most significant phrase, or its most significant two-word one with half its posts or more.

    "battery drain" says more than "drain", so a phrase is preferred unless it is much rarer.
    """
    leader = group[0]
    phrases = [t for t in group if len(t.keywords[0].tokens) > 1 and 2 * len(t.docs) >= len(leader.docs)]
    return phrases[0] if phrases else leader


def _rounded(p: float) -> float:
    """Three significant digits: enough to read, and the same in every process."""
    return float(f"{p:.3g}")
