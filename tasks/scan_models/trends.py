"""Q3 by the model: it names the themes it sees rising, fading or new; the counting and the test are the local scan's.

The model sees a sample of the window's posts and of the posts before it, and names themes with the keywords
that find them. It neither counts nor decides: :func:`tasks.analysis.trends.scan_themes` counts each theme's posts
of the whole window and baseline that have one of its keywords and tests them as the local scan tests its
phrases (exact binomial test per language, Tarone's screen, Holm), so both paths answer alike on the same data.
The model's direction and cited posts ground its reply; the data decide the ``direction``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from organism.gateway.structured import complete_json
from tasks.analysis import trends as local
from tasks.analysis.sources import Item
from tasks.scan_models.asking import EMPTY, MAX_ITEMS, Citing, ItemId, once, payload, sample, scanned


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

    The result has the local scan's keys and shape (see :func:`tasks.analysis.trends.scan_themes`), plus
    ``items_sent`` and ``engine``, and ``unsupported``: the model's themes whose change is significant in no
    language, each with its counts, its smallest adjusted p (None if it is in too few posts to be tested) and
    the direction the model ``claimed``. Half the items sent are from the window, half from before it.
    """

    def ask() -> dict[str, Any]:
        now, before = sample(current, MAX_ITEMS // 2), sample(baseline, MAX_ITEMS // 2)
        items = payload(now, period="window") + payload(before, period="before")
        reply = complete_json("scan_q3", {"items": items, "top_n": top_n}, TrendReply.sending(now + before))
        named: dict[str, list[str]] = {}
        claimed: dict[str, str] = {}
        for theme in reply.value.themes:  # a theme named twice is one, with the keywords of both
            named[theme.theme] = once([*named.get(theme.theme, []), *theme.keywords])
            claimed.setdefault(theme.theme, theme.direction)
        result = local.scan_themes(current, baseline, named, top_n=top_n)
        unsupported = [{**theme, "claimed": claimed[theme["theme"]]} for theme in result["unsupported"]]
        return {**result, "unsupported": unsupported, "items_sent": len(items), "engine": reply.engine}

    idle = EMPTY if not current else "no items before the window to compare with" if not baseline else None
    return scanned(lambda: local.scan_trends(current, baseline, top_n=top_n), ask, idle)
