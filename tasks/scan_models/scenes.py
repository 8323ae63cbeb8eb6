"""Q4 by the model: the situations people use the products in, with their time, place, activity and device."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, Field

from organism.gateway.structured import complete_json
from tasks.analysis import scenes as local
from tasks.analysis.sources import Item
from tasks.analysis.text import finding
from tasks.scan_models.asking import EMPTY, MAX_ITEMS, Citing, ItemId, by_score, once, payload, sample, scanned


class Facets(BaseModel):
    """What makes the scene; a facet the posts do not tell is null."""

    time: str | None = Field(default=None, max_length=60)
    place: str | None = Field(default=None, max_length=60)
    activity: str | None = Field(default=None, max_length=60)
    device: str | None = Field(default=None, max_length=60)


class Scene(BaseModel):
    """A situation in which people use (or try to use) the products, and the posts that show it."""

    theme: str = Field(min_length=3, max_length=120)
    facets: Facets
    evidence: list[ItemId] = Field(min_length=1)


class SceneReply(Citing):
    scenes: list[Scene]

    def cited(self) -> Iterable[str]:
        return (post for scene in self.scenes for post in scene.evidence)


def scan_scenes(items: list[Item], top_n: int = 8) -> dict[str, Any]:
    """:func:`tasks.analysis.scenes.scan_scenes`, by the model when one is configured.

    A scene's score is the share of the posts sent that the model cites for it; its keywords are the facets
    the posts tell, and ``facets`` has all four.
    """

    def ask() -> dict[str, Any]:
        sent = sample(items, MAX_ITEMS)
        reply = complete_json("scan_q4", {"items": payload(sent), "top_n": top_n}, SceneReply.sending(sent))
        findings = []
        for scene in reply.value.scenes:
            posts = once(scene.evidence)
            facets = scene.facets.model_dump()
            keywords = [value for value in facets.values() if value]
            findings.append(finding(scene.theme, len(posts) / len(sent), len(posts), posts, keywords, facets=facets))
        findings.sort(key=by_score)
        return {
            "quadrant": "q4",
            "items_scanned": len(items),
            "items_sent": len(sent),
            "findings": findings[:top_n],
            "engine": reply.engine,
        }

    return scanned(lambda: local.scan_scenes(items, top_n=top_n), ask, None if items else EMPTY)
