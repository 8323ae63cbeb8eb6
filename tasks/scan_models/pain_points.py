"""Q1 by the model: the complaint themes it finds, each an aspect and what is wrong with it, citing its posts."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, Field

from organism.gateway.structured import complete_json
from tasks.analysis import pain_points as local
from tasks.analysis.sources import Item
from tasks.analysis.text import finding
from tasks.scan_models.asking import EMPTY, MAX_ITEMS, Citing, ItemId, by_score, once, payload, sample, scanned


class PainFinding(BaseModel):
    """One complaint theme: what is wrong with which aspect, and the posts that say so."""

    theme: str = Field(min_length=3, max_length=120, description="the aspect and what is wrong with it")
    aspect: str = Field(min_length=1, max_length=60, description="the part of the product, e.g. battery")
    complaint: str = Field(min_length=3, max_length=160, description="what is wrong, e.g. drains overnight")
    evidence: list[ItemId] = Field(min_length=1, description="ids of the posts that make this complaint")


class PainReply(Citing):
    findings: list[PainFinding]

    def cited(self) -> Iterable[str]:
        return (post for found in self.findings for post in found.evidence)


def scan_pain_points(items: list[Item], top_n: int = 10) -> dict[str, Any]:
    """:func:`tasks.analysis.pain_points.scan_pain_points`, by the model when one is configured.

    A theme's score is the number of posts the model cites for it (the local scan weighs its posts by how
    strongly they complain; synthesis compares scores only within a scan); its keywords are its aspect and
    complaint. ``pain_items`` counts the posts any theme cites.
    """

    def ask() -> dict[str, Any]:
        sent = sample(items, MAX_ITEMS)
        reply = complete_json("scan_q1", {"items": payload(sent), "top_n": top_n}, PainReply.sending(sent))
        findings = []
        for found in reply.value.findings:
            posts = once(found.evidence)
            keywords = [found.aspect, found.complaint]
            extra = {"aspect": found.aspect, "complaint": found.complaint}
            findings.append(finding(found.theme, len(posts), len(posts), posts, keywords, **extra))
        findings.sort(key=by_score)
        return {
            "quadrant": "q1",
            "items_scanned": len(items),
            "items_sent": len(sent),
            "pain_items": len(set(reply.value.cited())),
            "findings": findings[:top_n],
            "engine": reply.engine,
        }

    return scanned(lambda: local.scan_pain_points(items, top_n=top_n), ask, None if items else EMPTY)
