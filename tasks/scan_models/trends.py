"""Q3 by the model: it names the themes it sees rising, fading or new; the counting and the test are done here.

The model sees a sample of the window's posts and of the posts before it, and names themes with the keywords
that find them. It does not count: a theme's posts are the posts of the whole window and baseline that contain
one of its keywords (matched on tokens as the local scans match), plus those the model cited, and the change is
tested with Fisher's exact test on the share of posts that mention the theme now and before, at a false
discovery rate of ``ALPHA`` over the themes named (Benjamini-Hochberg). The data decide the ``direction``; the
model's is kept as ``claimed``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field
from scipy.stats import false_discovery_control, fisher_exact

from organism.gateway.structured import complete_json
from tasks.analysis import trends as local
from tasks.analysis.sources import Item
from tasks.analysis.text import Keyword, detect_lang, finding, make_docs, tokenize
from tasks.scan_models.asking import EMPTY, MAX_ITEMS, Citing, ItemId, by_score, payload, sample, scanned

ALPHA = 0.05
_NO_TIME = datetime.min.replace(tzinfo=UTC)


class TrendTheme(BaseModel):
    """A topic the model sees change from the windows before to the window, with the words that find it."""

    theme: str = Field(min_length=3, max_length=120)
    direction: Literal["rising", "fading", "new"]
    keywords: list[Annotated[str, Field(min_length=1, max_length=60)]] = Field(
        min_length=1, max_length=6, description="words or short phrases as the posts write them"
    )
    evidence: list[ItemId] = Field(min_length=1)


class TrendReply(Citing):
    themes: list[TrendTheme]

    def cited(self) -> Iterable[str]:
        return (post for theme in self.themes for post in theme.evidence)


def scan_trends(current: list[Item], baseline: list[Item], top_n: int = 10) -> dict[str, Any]:
    """:func:`tasks.analysis.trends.scan_trends`, with the themes named by the model when one is configured.

    Rising and new themes are the ``findings`` (score: the growth of their share of posts), fading ones are
    ``fading``; each carries its ``current`` and ``baseline`` post counts, its ``direction``, the model's
    ``claimed`` one and its ``p_value`` (adjusted). Themes whose change is not significant are ``unsupported``,
    with their counts. Half the items sent are from the window, half from before it.
    """

    def ask() -> dict[str, Any]:
        now, before = sample(current, MAX_ITEMS // 2), sample(baseline, MAX_ITEMS // 2)
        items = payload(now, period="window") + payload(before, period="before")
        reply = complete_json("scan_q3", {"items": items, "top_n": top_n}, TrendReply.sending(now + before))
        return {
            "quadrant": "q3",
            "items_scanned": len(current),
            "baseline": len(baseline),
            "items_sent": len(items),
            "note": None,
            **_measure(reply.value.themes, current, baseline, top_n),
            "engine": reply.engine,
        }

    idle = EMPTY if not current else "no items before the window to compare with" if not baseline else None
    return scanned(lambda: local.scan_trends(current, baseline, top_n=top_n), ask, idle)


def _measure(themes: list[TrendTheme], current: list[Item], baseline: list[Item], top_n: int) -> dict[str, Any]:
    """The themes counted and tested over every post: ``findings`` (rising, new), ``fading`` and ``unsupported``."""
    docs = make_docs([*current, *baseline])
    published = {doc.id: doc.published or _NO_TIME for doc in docs}
    now_ids = {item.id for item in current}
    n_now, n_before = len(current), len(baseline)
    counted = []
    for theme in themes:
        keywords = [Keyword(k, tokens, 0.0) for k in theme.keywords if (tokens := tokenize(k, detect_lang(k)))]
        posts = {doc.id for doc in docs if any(doc.has(k) for k in keywords)} | set(theme.evidence)
        now = len(posts & now_ids)
        before = len(posts) - now
        p = float(fisher_exact([[now, n_now - now], [before, n_before - before]]).pvalue)
        counted.append((theme, posts, now, before, p))
    adjusted = false_discovery_control([c[4] for c in counted]) if counted else []
    measured: dict[str, list[dict[str, Any]]] = {"findings": [], "fading": [], "unsupported": []}
    for (theme, posts, now, before, _), q in zip(counted, adjusted, strict=True):
        counts = {"claimed": theme.direction, "current": now, "baseline": before, "p_value": round(float(q), 4)}
        if q >= ALPHA:
            measured["unsupported"].append({"theme": theme.theme, "keywords": theme.keywords, **counts})
            continue
        # Each share smoothed by half a post, so that a theme absent before has a finite growth.
        growth = ((now + 0.5) / (n_now + 1)) / ((before + 0.5) / (n_before + 1))
        direction = "new" if before == 0 else "rising" if growth > 1 else "fading"
        shown = posts - now_ids if direction == "fading" else posts & now_ids
        examples = sorted(shown, key=lambda post: (post not in theme.evidence, -published[post].timestamp(), post))
        measured["fading" if direction == "fading" else "findings"].append(
            finding(theme.theme, growth, len(posts), examples, theme.keywords, direction=direction, **counts)
        )
    measured["findings"].sort(key=by_score)
    measured["fading"].sort(key=lambda found: (found["score"], found["theme"]))
    return {key: found[:top_n] for key, found in measured.items()}
