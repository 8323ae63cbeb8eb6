"""Q1 pain-point scan: what is wrong, and with what, in the posts that complain?

Each item's polarity comes from :func:`tasks.analysis.polarity.polarity`; the items labelled
negative are the pain items. Every item is read for candidate complaints, an aspect and what is
said of it in the same clause ("wifi not working", "房间不干净"; see :mod:`tasks.analysis.complaints`).
A complaint becomes a theme when negative items make it markedly more often than the other items
of their language: by its "Fightin' Words" log-odds z-score (:mod:`tasks.analysis.log_odds`), or
by that of its problem word said of anything ("脏" makes "地毯脏" count) while the complaint itself
leans negative. So words merely frequent in the domain ("hotel", "room", "酒店") are never themes,
and neither is praise ("staff friendly"), which is commoner outside the negative items.

A generic verdict ("terrible", "差") names what is wrong only through its aspect, so it is a theme
only of an aspect that the other items seldom name: "sync problems" and "态度差" can be, "酒店差"
and "flight terrible" cannot, as hotel and flight are what the happy posts talk about too. An aspect
loses the leading words that the other items name as often ("酒店网络连不上" is "网络连不上", "hotel
wifi not working" is "wifi not working"), so wordings of one complaint make one theme. Evidence is
the negative items that make the complaint, most negative first.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from tasks.analysis.complaints import GENERIC, Complaint, read
from tasks.analysis.log_odds import log_odds_z
from tasks.analysis.polarity import polarity
from tasks.analysis.sources import Item
from tasks.analysis.text import finding, item_text

Z_MIN = 1.645  # over-represented in the negative items at the 5 % level, one-sided
PRIOR_ITEMS = 10.0  # weight of the log-odds prior, in items
MIN_MENTIONS = 3
MIN_REST = 20  # fewer items that do not complain, and no z-score can tell complaints apart
COMMON_SHARE = 0.05  # an aspect named by this share of the items that do not complain is what all are about
MAX_VARIANTS = 4  # other wordings of a theme listed among its keywords


@dataclass
class _Language:
    """One language's items: how many negative and other items make each complaint or name each aspect."""

    items: int = 0
    negative_items: int = 0
    rest_aspects: Counter[str] = field(default_factory=Counter)
    negative: Counter[tuple[str, str]] = field(default_factory=Counter)
    rest: Counter[tuple[str, str]] = field(default_factory=Counter)
    negative_problems: Counter[str] = field(default_factory=Counter)
    rest_problems: Counter[str] = field(default_factory=Counter)

    def name(self, aspects: frozenset[str], negative: bool) -> None:
        """Count an item and the aspect words it uses."""
        self.items += 1
        if negative:
            self.negative_items += 1
        else:
            self.rest_aspects.update(aspects)

    def add(self, keys: set[tuple[str, str]], negative: bool) -> None:
        """Count the complaints an item makes."""
        (self.negative if negative else self.rest).update(keys)
        (self.negative_problems if negative else self.rest_problems).update({problem for _, problem in keys})

    def over_represented(self) -> dict[tuple[str, str], float]:
        """The complaints of at least :data:`MIN_MENTIONS` negative items that set them apart, with their z."""
        sizes = self.negative_items, self.items - self.negative_items
        z_pair = log_odds_z(self.negative, self.rest, *sizes, PRIOR_ITEMS)
        z_problem = log_odds_z(self.negative_problems, self.rest_problems, *sizes, PRIOR_ITEMS)
        if not self.can_contrast:
            # Too few other items for any z to reach Z_MIN: a complaint that two negative items make and no
            # other item does is still one (its problem word already says something is wrong).
            return {key: z_pair[key] for key, mentions in self.negative.items() if mentions >= 2 and not self.rest[key]}
        return {
            (aspect, problem): z_pair[aspect, problem]
            for (aspect, problem), mentions in self.negative.items()
            if mentions >= MIN_MENTIONS
            and (z_pair[aspect, problem] >= Z_MIN or (z_pair[aspect, problem] > 0 and z_problem[problem] >= Z_MIN))
        }

    @property
    def can_contrast(self) -> bool:
        """Whether there are enough items that do not complain to set the complaints apart from."""
        return self.items - self.negative_items >= MIN_REST

    def common(self, aspect: str) -> bool:
        """Whether each word of the aspect is named by :data:`COMMON_SHARE` or more of the items not negative."""
        rest = self.items - self.negative_items
        return rest > 0 and all(self.rest_aspects[word] >= COMMON_SHARE * rest for word in aspect.split())

    def core(self, aspect: str) -> str:
        """The aspect without the common words it starts with: "酒店 网络" is "网络", "hotel wifi" is "wifi"."""
        words = aspect.split()
        while len(words) > 1 and self.common(words[0]):
            words = words[1:]
        return " ".join(words)


@dataclass
class _Theme:
    """The negative items that make a complaint, how they word it, and its z-score."""

    lang: str
    aspect: str
    problem: str
    z: float
    items: dict[str, float] = field(default_factory=dict)  # item id -> polarity score
    phrases: Counter[str] = field(default_factory=Counter)
    aspects: Counter[str] = field(default_factory=Counter)
    problems: Counter[str] = field(default_factory=Counter)

    def add(self, item_id: str, score: float, said: Complaint) -> None:
        self.items[item_id] = score
        self.phrases[said.phrase(self.lang)] += 1
        self.aspects[said.aspect_text] += 1
        self.problems[said.problem_text] += 1

    def wording(self, counts: Counter[str]) -> list[str]:
        """The wordings in ``counts``, the most used first, then the shorter, then alphabetical."""
        return sorted(counts, key=lambda w: (-counts[w], len(w), w))

    def finding(self, pain_items: int) -> dict[str, Any]:
        """The theme as a finding, scored by its share of the negativity of its language's ``pain_items``."""
        ranked = sorted(self.items, key=lambda i: (self.items[i], i))
        phrases, aspect, problem = (
            self.wording(c)[: 1 + MAX_VARIANTS] for c in (self.phrases, self.aspects, self.problems)
        )
        negativity = sum(max(0.0, -score) for score in self.items.values())
        keywords = list(dict.fromkeys([*phrases, aspect[0], problem[0]]))
        share = negativity / max(pain_items, 1)
        return finding(
            phrases[0], share, len(ranked), ranked, keywords, aspect=aspect[0], complaint=problem[0], z=self.z
        )


def scan_pain_points(items: list[Item], top_n: int = 10) -> dict[str, Any]:
    """Find the complaints that set the negative items apart, with the negative items that make them.

    Args:
        items: Items to scan (any mix of English and Chinese).
        top_n: Maximum number of themes to return.

    Returns:
        ``{"quadrant": "q1", "items_scanned", "pain_items", "findings": [...]}`` where ``pain_items``
        counts the negative items. Each finding names an aspect and what is wrong with it (``theme``,
        with ``aspect`` and ``complaint``); its ``score`` is its share of the complaining in its language:
        the summed negativity (0..1 each) of the negative items that make the complaint over the number
        of negative items in that language, so English and Chinese themes rank alike however many
        posts each language has. ``z`` is its log-odds z-score, ``mentions`` the number of negative items
        that make it, ``examples`` cites them, most negative first, and ``keywords`` holds its wordings,
        then its aspect and complaint words.
    """
    read_items = []
    languages: dict[str, _Language] = defaultdict(_Language)
    for item in items:
        text = item_text(item)
        judged, reading = polarity(text, item.lang), read(text, item.lang)
        read_items.append((item, judged, reading))
        languages[item.lang].name(reading.aspects, judged.label == "negative")
    for item, judged, reading in read_items:
        keys = {(languages[item.lang].core(c.aspect), c.problem) for c in reading.complaints}
        languages[item.lang].add(keys, judged.label == "negative")
    themes = {
        (lang, aspect, problem): _Theme(lang, aspect, problem, z)
        for lang in sorted(languages)
        for (aspect, problem), z in languages[lang].over_represented().items()
    }
    pain = [(item, judged.score, reading) for item, judged, reading in read_items if judged.label == "negative"]
    for item, score, reading in pain:
        language = languages[item.lang]
        for complaint in reading.complaints:
            if (theme := themes.get((item.lang, language.core(complaint.aspect), complaint.problem))) is not None:
                theme.add(item.id, score, complaint)
    findings = [
        theme.finding(languages[theme.lang].negative_items)
        for theme in themes.values()
        if theme.problem != GENERIC or not languages[theme.lang].common(theme.aspect)
    ]
    findings.sort(key=lambda f: (-f["score"], f["theme"]))
    uncontrasted = sorted(lang for lang, language in languages.items() if language.items and not language.can_contrast)
    return {
        "quadrant": "q1",
        "items_scanned": len(items),
        "pain_items": len(pain),
        "findings": findings[:top_n],
        "note": f"too few items that do not complain to contrast with ({', '.join(uncontrasted)}): complaints made "
        f"by two or more negative items and no other are reported"
        if uncontrasted
        else None,
    }
