"""Cross-quadrant synthesis: join what the four scans saw into insights more than one supports.

Pain themes (q1) and rising topics (q3) are the anchors: a pain theme and a trend that name the
same thing, or rest on the same posts, become one insight. Each insight then takes the emotion
(q2) and the scene (q4) it is most tied to. Two findings are tied when the words of one's theme
appear among the other's keywords, or when they cite the same posts. Words are compared as
lowercase English words and as Chinese character pairs, so "离线模式" meets "离线" without a
segmenter. Only insights backed by at least two quadrants are reported.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

QUADRANTS = ("q1", "q2", "q3", "q4")
MERGE_LINK = 0.5
ATTACH_LINK = 0.34
MAX_INSIGHTS = 12
MAX_EVIDENCE = 10
NEGATIVE_EMOTIONS = frozenset(("anger", "disgust", "fear", "sadness"))
_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_LATIN = re.compile(r"[a-z][a-z0-9'-]*")

Finding = dict[str, Any]
Group = dict[str, Any]  # quadrant -> the finding it contributed, plus "_link" strengths


def synthesize(
    scans: list[dict[str, Any]], *, describe: Callable[[Group], str] | None = None
) -> dict[str, Any]:
    """Relate the quadrant scans to one another and list the insights they jointly support.

    Args:
        scans: Scan results in any order, each identified by its ``"quadrant"`` key; a missing or
            repeated quadrant is tolerated (the first of a repeat wins).
        describe: Writes an insight's title from its group; defaults to :func:`describe_insight`.

    Returns:
        ``{"quadrants": {q: {"items_scanned", "top"}}, "insights": [...], "missing_quadrants": [...]}``.
        Each insight has ``signals`` in 0..1, 0 when that quadrant does not support it: pain is the
        theme's pain score relative to the largest, trend its growth on a log scale relative to the
        fastest, emotion and scene the strength of the tie (:func:`link`) to the emotion and scene
        attached, whose names are given as ``emotion`` and ``scene``.
    """
    by_quadrant: dict[str, dict[str, Any]] = {}
    for scan in scans:
        quadrant = scan.get("quadrant") if isinstance(scan, dict) else None
        if quadrant in QUADRANTS and quadrant not in by_quadrant:
            by_quadrant[quadrant] = scan
    findings = {q: list(by_quadrant.get(q, {}).get("findings") or []) for q in QUADRANTS}
    groups = _anchor_groups(findings)
    for group in groups:
        for quadrant in ("q2", "q4"):
            _attach_best(group, quadrant, findings[quadrant])
    insights = [
        _insight(group, findings, describe or describe_insight)
        for group in groups
        if len(_members(group)) >= 2
    ]
    insights.sort(key=lambda i: (-sum(i["signals"].values()), i["title"]))
    for n, insight in enumerate(insights[:MAX_INSIGHTS], start=1):
        insight["id"] = f"i{n}"
    return {
        "quadrants": {
            q: {
                "items_scanned": scan.get("items_scanned", 0),
                "top": [f.get("theme") for f in findings[q][:3]],
            }
            for q, scan in sorted(by_quadrant.items())
        },
        "insights": [{"id": i.pop("id"), **i} for i in insights[:MAX_INSIGHTS]],
        "missing_quadrants": [q for q in QUADRANTS if q not in by_quadrant],
    }


# --- MODEL SEAM -----------------------------------------------------------------------------
# describe_insight turns a group of linked findings into a one-line title from fixed templates.
# A model-backed writer (an LLM behind the gateway) can replace it by passing ``describe=`` to
# synthesize(): it receives the same group and must return a short title. Linking and signals
# stay deterministic either way, so rankings do not depend on the model.
def describe_insight(group: Group) -> str:
    """Title an insight from its findings, e.g. "'battery drain': pain point in 22 posts, rising x4.4"."""
    pain, emotion, trend, scene = (group.get(q) for q in QUADRANTS)
    anchor = pain or trend or scene or emotion or {}
    parts = []
    if pain:
        parts.append(f"pain point in {pain['mentions']} posts")
    if trend:
        same = trend["theme"] == anchor.get("theme")
        parts.append(f"rising x{trend['score']:.1f}" + ("" if same else f" as '{trend['theme']}'"))
    if emotion:
        parts.append(f"felt as {emotion['theme']}")
    if scene and scene is not anchor:
        parts.append(f"in scene '{scene['theme']}'")
    return f"'{anchor.get('theme', '?')}': " + ", ".join(parts)


def _anchor_groups(findings: dict[str, list[Finding]]) -> list[Group]:
    """One group per pain theme, with the trend most tied to it; leftover trends stand alone."""
    anchors = [("q1", f) for f in findings["q1"]] + [("q3", f) for f in findings["q3"]]
    if not anchors:  # no pain or trend scan: let the scenes anchor instead
        anchors = [("q4", f) for f in findings["q4"]]
    groups: list[Group] = []
    for quadrant, found in anchors:
        candidates = [
            (link(found, g[q]), -n, g) for n, g in enumerate(groups) if quadrant not in g for q in _members(g)
        ]
        best = max(candidates, key=lambda c: (c[0], c[1]), default=None)
        if best and best[0] >= MERGE_LINK:
            best[2][quadrant] = found
            best[2]["_link"][quadrant] = best[0]
        else:
            groups.append({quadrant: found, "_link": {quadrant: 1.0}})
    for group in groups:
        group["_anchors"] = _members(group)
    return groups


def _attach_best(group: Group, quadrant: str, candidates: list[Finding]) -> None:
    """Attach the candidate most tied to the group's anchors (not to findings attached earlier)."""
    if quadrant in group:
        return
    anchors = group["_anchors"]
    scored = [(max(link(group[q], c) for q in anchors), -n, c) for n, c in enumerate(candidates)]
    best = max(scored, key=lambda s: (s[0], s[1]), default=None)
    if best and best[0] >= ATTACH_LINK:
        group[quadrant] = best[2]
        group["_link"][quadrant] = best[0]


def link(a: Finding, b: Finding) -> float:
    """How strongly two findings are about the same thing, 0..1.

    The larger of two measures. By words: how many of one finding's theme words appear in the
    other finding, each weighted by its place there (the theme and first keyword count fully,
    the last keyword least), taking the stronger direction. By posts: the overlap coefficient
    of the posts the two cite.
    """
    by_words = 0.0
    for x, y in ((a, b), (b, a)):
        theme = terms(str(x.get("theme", "")))
        if theme:
            weights = _term_weights(y)
            by_words = max(by_words, sum(weights.get(t, 0.0) for t in theme) / len(theme))
    ids_a, ids_b = set(a.get("examples", [])), set(b.get("examples", []))
    by_posts = len(ids_a & ids_b) / min(len(ids_a), len(ids_b)) if ids_a and ids_b else 0.0
    return round(max(by_words, by_posts), 4)


def _term_weights(found: Finding) -> dict[str, float]:
    keywords = [str(k) for k in found.get("keywords", [])]
    weights = dict.fromkeys(terms(str(found.get("theme", ""))), 1.0)
    for rank, keyword in enumerate(keywords):
        for term in terms(keyword):
            weights[term] = max(weights.get(term, 0.0), 1.0 - rank / len(keywords))
    return weights


def terms(text: str) -> set[str]:
    """Comparable units of a phrase: English words and Chinese character pairs."""
    lowered = text.lower()
    units = set(_LATIN.findall(lowered))
    for run in _CJK_RUN.findall(lowered):
        units |= {run} if len(run) < 2 else {run[i : i + 2] for i in range(len(run) - 1)}
    return units


def _members(group: Group) -> list[str]:
    return [q for q in QUADRANTS if q in group]


def _insight(
    group: Group, findings: dict[str, list[Finding]], describe: Callable[[Group], str]
) -> dict[str, Any]:
    pain, emotion, trend, scene = (group.get(q) for q in QUADRANTS)
    max_pain = max((f["score"] for f in findings["q1"]), default=0.0)
    max_growth = max((f["score"] for f in findings["q3"]), default=1.0)
    anchors = [group[q] for q in group["_anchors"]]
    keywords: list[str] = []
    for word in [w for found in anchors for w in [found["theme"], *found.get("keywords", [])[:3]]]:
        if word not in keywords:
            keywords.append(word)
    if scene and "q4" not in group["_anchors"]:  # the scene's terms, not its " / "-joined label
        keywords += [w for w in scene.get("keywords", [])[:3] if w not in keywords]
    evidence: list[str] = []
    for found in anchors:
        evidence += [e for e in found.get("examples", []) if e not in evidence]
    signals = {
        "pain": round(pain["score"] / max_pain, 4) if pain and max_pain > 0 else 0.0,
        "emotion": round(group["_link"]["q2"], 4) if emotion else 0.0,
        "trend": round(math.log(trend["score"]) / math.log(max_growth), 4)
        if trend and max_growth > 1 and trend["score"] > 1
        else 0.0,
        "scene": round(group["_link"]["q4"], 4) if scene else 0.0,
    }
    return {
        "id": "",
        "title": describe(group),
        "quadrants": _members(group),
        "keywords": keywords[:8],
        "evidence": evidence[:MAX_EVIDENCE],
        "signals": signals,
        "emotion": emotion["theme"] if emotion else None,
        "scene": scene["theme"] if scene else None,
    }
