"""Q1 pain-point scan: what do users complain about, and how badly?

A post counts as a pain point when it uses friction language ("can't", "broken", "slow",
"崩溃", "太慢", "卡住"...) and its sentiment is not clearly positive, or when its sentiment is
strongly negative on its own. Key phrases are extracted per language from the sentences that
carry the friction, not from whole posts, so that the context people mention in passing
("on my night shift") does not become a pain theme. Phrases are then merged into themes by the
posts they share, so "battery drain" and "firmware update" end up as one theme when the same
people say both.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from tasks.analysis.sources import Item
from tasks.analysis.text import (
    Doc,
    Keyword,
    extract_keywords,
    finding,
    make_docs,
    sentiment,
    tokenize,
)

_EN_CUES = re.compile(
    r"\b(?:can't|cannot|won't|couldn't|wouldn't|no signal|no connection|lost signal|unusable|doesn't work|"
    r"don't work|not working|broken|broke|slow\w*|expensive|crash\w*|freez\w*|froze|drain\w*|dead|died|"
    r"late(?![- ](?:night|shift))|delay\w*|stuck|stall\w*|fail\w*|error|bug\w*|useless|"
    r"annoy\w*|frustrat\w*|ridiculous|missing|wrong|cold|lost|disconnect\w*|lag\w*|spins?|queue|wait\w*|"
    r"too many|false|conflict\w*|overwrote|double|twice|hike|increase|out of order|no way|worse|terrible|"
    r"awful|hate|problem\w*|issue\w*|tanking|soggy|hassle)\b"
)
_ZH_CUES = re.compile(
    r"崩溃|太慢|很慢|变慢|慢半拍|卡住|卡顿|卡在|卡得|闪退|耗电|没电|掉电|电量低|坏了|故障|报错|失败|延迟|迟到|"
    r"送晚|晚了|太贵|涨价|凉了|是凉的|少送|送错|打不开|用不了|没用|误报|断开|排队|插队|扣了两次|转圈|太差|"
    r"太坑|很烦|失望|解决不了|绑不上|启动不了|不准|离谱|等了|没信号|信号一断|难受"
)
_SENTENCE = re.compile(r"(?<=[.!?。！？；;])\s*")
MIN_MENTIONS = 2
CANDIDATES_PER_LANG = 40


def scan_pain_points(items: list[Item], top_n: int = 10) -> dict[str, Any]:
    """Find complaint themes, scored by how many pain posts mention them and how negative they are.

    Args:
        items: Items to scan (any mix of English and Chinese).
        top_n: Maximum number of themes to return.

    Returns:
        ``{"quadrant": "q1", "items_scanned", "pain_items", "findings": [...]}``; each finding's
        score is the summed pain intensity (0..1 per post) of the posts in the theme.
    """
    docs = make_docs(items)
    intensity = {doc.id: value for doc in docs if (value := pain_intensity(doc.text, doc.lang)) > 0}
    pain_docs = [_friction_part(doc) for doc in docs if doc.id in intensity]
    candidates: list[tuple[Keyword, list[Doc]]] = []
    for lang in ("en", "zh"):
        lang_docs = [doc for doc in pain_docs if doc.lang == lang]
        for keyword in extract_keywords([doc.text for doc in lang_docs], lang, top=CANDIDATES_PER_LANG):
            matched = [doc for doc in lang_docs if doc.has(keyword)]
            if len(matched) >= MIN_MENTIONS:
                candidates.append((keyword, matched))
    candidates.sort(key=lambda c: (-sum(intensity[d.id] for d in c[1]), c[0].weight, c[0].text))
    findings = []
    for group in group_by_overlap(candidates):
        members = {doc.id: doc for _, matched in group for doc in matched}
        ranked = sorted(members, key=lambda i: (-intensity[i], i))
        findings.append(
            finding(
                label_group(group)[0].text,
                sum(intensity[i] for i in members),
                len(members),
                ranked,
                [keyword.text for keyword, _ in group],
            )
        )
    findings.sort(key=lambda f: (-f["score"], f["theme"]))
    return {
        "quadrant": "q1",
        "items_scanned": len(items),
        "pain_items": len(pain_docs),
        "findings": findings[:top_n],
    }


def _friction_part(doc: Doc) -> Doc:
    """The doc restricted to its sentences with friction cues (all of it when none has a cue)."""
    cues = _ZH_CUES if doc.lang == "zh" else _EN_CUES
    sentences = [part for part in _SENTENCE.split(doc.text) if cues.search(part.lower())]
    if not sentences:
        return doc
    text = ("" if doc.lang == "zh" else " ").join(sentences)
    return Doc(doc.id, doc.lang, text, tokenize(text, doc.lang), doc.published)


def pain_intensity(text: str, lang: str) -> float:
    """How strongly a text expresses friction, 0 (none) to 1.

    Cue words carry most of the signal because sentiment models miss flat complaints such as
    "battery lasts six days now"; sentiment separates "slow" in a rant from "slow" in praise.
    """
    cues = len((_ZH_CUES if lang == "zh" else _EN_CUES).findall(text.lower()))
    polarity = sentiment(text, lang)
    if not ((cues and polarity < 0.35) or polarity <= -0.5):
        return 0.0
    return round(0.4 + 0.3 * min(cues, 3) / 3 + 0.3 * max(0.0, -polarity), 4)


def group_by_overlap(
    candidates: Sequence[tuple[Keyword, Sequence[Doc]]], threshold: float = 0.6
) -> list[list[tuple[Keyword, Sequence[Doc]]]]:
    """Greedily merge keywords that are mostly said by the same posts, keeping the given order.

    A keyword joins the first group whose leading keyword's posts overlap its own: the overlap
    coefficient must reach ``threshold`` and the Jaccard index half of it, so a rare phrase is not
    swallowed by a broad one. Comparing with the leader only keeps groups from snowballing.
    """
    groups: list[list[tuple[Keyword, Sequence[Doc]]]] = []
    group_ids: list[set[str]] = []
    for keyword, matched in candidates:
        ids = {doc.id for doc in matched}
        for group, members in zip(groups, group_ids, strict=True):
            shared = len(ids & members)
            overlap, jaccard = shared / min(len(ids), len(members)), shared / len(ids | members)
            if overlap >= threshold and jaccard >= threshold / 2:
                group.append((keyword, matched))
                break
        else:
            groups.append([(keyword, matched)])
            group_ids.append(set(ids))
    return groups


def label_group(
    group: Sequence[tuple[Keyword, Sequence[Doc]]],
    strength: Callable[[tuple[Keyword, Sequence[Doc]]], float] = lambda c: float(len(c[1])),
) -> tuple[Keyword, Sequence[Doc]]:
    """Pick the keyword that names a group: the strongest, or a two-word phrase half as strong.

    Strength defaults to the number of posts. "battery drain" says more than "battery", so a
    phrase is preferred unless it is much weaker.
    """

    def rank(c: tuple[Keyword, Sequence[Doc]]) -> tuple[float, float, str]:
        return strength(c), -c[0].weight, c[0].text

    best = max(group, key=rank)
    phrases = [c for c in group if len(c[0].tokens) > 1]
    if phrases and 2 * strength(max(phrases, key=rank)) >= strength(best):
        best = max(phrases, key=rank)
    return best
