"""Q4 scene scan: in which situations do people use (or try to use) the products?

A scene is a situation of use told by four facets: doing what (activity), where (place), when
(time of day or occasion) and on what (device). People name the situation in a phrase ("on the
train", "出差住酒店", "at 3am", "用笔记本"), so the scan looks for those phrases, not for topics:
the cues of each facet and language are listed in ``data/scenes_en.json`` and ``data/scenes_zh.json``
as regular expressions (whole words in English, substrings in Chinese). Words that are only
sometimes a situation count only inside a phrase that makes them one ("at home", never "home" as
in "home button"), an ``ignore`` list hides known false hits ("self-driving", "开车门"), and a cue
right after a negation ("I don't play games", "没人需要下厨") does not count. The cues are matched
on the lowercased text, not on ``tokenize``'s tokens, which drop the little words ("on", "at", "在")
that tell a place from a topic.

The cues of one sentence make one situation, e.g. "commuting · on the train · phone" (in Chinese
one clause: reviews run many together with commas); a post counts in the most specific situations
its sentences describe. A combination too rare to report backs off to its most common
generalisation (one facet fewer), and scenes that share most of their posts merge.
"""

from __future__ import annotations

import bisect
import json
import math
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from tasks.analysis.sources import Item
from tasks.analysis.text import DATA_DIR, finding, item_text

FACETS = ("activity", "place", "time", "device")  # the order of the values in a scene's name
OUTPUT_FACETS = ("time", "place", "activity", "device")
DROP_FIRST = ("device", "time", "place", "activity")  # which facet a rare combination loses on a tie
MIN_POSTS = 2
MIN_SHARE = 0.002  # of the scanned posts, for a scene to be reported
MERGE_OVERLAP = 0.5  # of the larger scene's posts
KEYWORD_TERMS = 8
NEGATION_REACH = 24  # characters before a cue in which its negation is looked for
_SENTENCE = {"en": re.compile(r"(?<=[.!?;])\s+|\n+"), "zh": re.compile(r"[。！？；!?;…\n，,]+")}

Key = tuple[tuple[str, str], ...]  # (facet, value) pairs in FACETS order
Cue = tuple[str, str]  # (facet, cue word as matched)
Posts = dict[str, Counter[Cue]]  # post id -> the cues behind its membership


@dataclass(frozen=True)
class Situation:
    """The situation one sentence describes: its facet values and the cue words that named them."""

    key: Key
    cues: tuple[Cue, ...]


@dataclass(frozen=True)
class Lexicon:
    """One language's cues: a pattern that finds where any of them starts, and the entries in order."""

    finder: re.Pattern[str]
    entries: tuple[tuple[re.Pattern[str], dict[str, str] | None], ...]  # facet values; None: ignored phrase
    negated: re.Pattern[str]  # matches the end of the text before a cue that is negated


@dataclass
class Scene:
    """A reported scene: its facet values (several after a merge) and the posts behind it."""

    values: dict[str, list[str]]
    posts: Posts = field(default_factory=dict)

    @property
    def label(self) -> str:
        return " · ".join(" / ".join(self.values[f]) for f in FACETS if f in self.values)

    def absorb(self, other: Scene) -> None:
        for facet, values in other.values.items():
            self.values.setdefault(facet, []).extend(v for v in values if v not in self.values[facet])
        _add(self.posts, other.posts)


def scan_scenes(items: list[Item], top_n: int = 8) -> dict[str, Any]:
    """Find up to ``top_n`` situations of use, scored by the share of posts that mention them.

    Args:
        items: Items to scan (any mix of English and Chinese).
        top_n: Maximum number of scenes to return.

    Returns:
        ``{"quadrant": "q4", "items_scanned", "scene_items", "findings": [...]}``: ``scene_items``
        counts the posts with any scene cue. A finding's theme names the scene by its facet values
        ("commuting · on the train"), its score is the share of scanned posts in it, its examples
        are those posts (the most explicit first), its keywords the cue words matched (most common
        first), and ``facets`` gives its ``time``, ``place``, ``activity`` and ``device`` (None
        where the posts do not say).
    """
    posts: dict[Key, Posts] = {}
    scene_items = 0
    for item in items:
        found: dict[Key, Counter[Cue]] = {}
        for situation in situations(item_text(item), item.lang):
            found.setdefault(situation.key, Counter()).update(situation.cues)
        scene_items += bool(found)
        for key, cues in found.items():
            posts.setdefault(key, {})[item.id] = cues
    min_posts = max(MIN_POSTS, math.ceil(MIN_SHARE * len(items)))
    _back_off(posts, min_posts)
    _keep_most_specific(posts)
    scenes = [Scene({f: [v] for f, v in key}, found) for key, found in posts.items() if len(found) >= min_posts]
    order = {item.id: n for n, item in enumerate(items)}
    findings = [_finding(scene, len(items), order) for scene in _merge(scenes)]
    findings.sort(key=lambda f: (-f["score"], f["theme"]))
    return {"quadrant": "q4", "items_scanned": len(items), "scene_items": scene_items, "findings": findings[:top_n]}


def situations(text: str, lang: str) -> list[Situation]:
    """The situations a text describes, one per sentence (clause in Chinese) with a scene cue, in order.

    A sentence takes the first value it names for each facet; its cues are the words that gave those values.
    """
    lexicon = _lexicon(lang)
    text = text.lower().replace("\u2019", "'")
    found = list(_cues(text, lexicon))
    if not found:
        return []
    ends = [m.end() for m in _SENTENCE[lang].finditer(text)]
    sentences: dict[int, list[tuple[str, dict[str, str]]]] = {}
    for start, word, cue in found:
        sentences.setdefault(bisect.bisect_right(ends, start), []).append((word, cue))
    out = []
    for _, named in sorted(sentences.items()):
        values: dict[str, str] = {}
        for _, cue in named:
            for facet, value in cue.items():
                values.setdefault(facet, value)
        key = tuple((f, values[f]) for f in FACETS if f in values)
        out.append(Situation(key, tuple((f, word) for word, cue in named for f, v in cue.items() if values[f] == v)))
    return out


def _cues(text: str, lexicon: Lexicon) -> Iterator[tuple[int, str, dict[str, str]]]:
    """Each cue in a lowercased text: where it starts, its words, and the facet values it names."""
    pos = 0
    while hit := lexicon.finder.search(text, pos):
        start, pos = hit.start(), hit.start() + 1
        for pattern, cue in lexicon.entries:
            if match := pattern.match(text, start):
                pos = max(match.end(), pos)
                # an ignored phrase (no cue) hides the cues inside it
                if cue is not None and not lexicon.negated.search(text, max(0, start - NEGATION_REACH), start):
                    yield start, " ".join(match.group().split()), cue
                break


@cache
def _lexicon(lang: str) -> Lexicon:
    """Compile ``data/scenes_<lang>.json``.

    One flat alternation of every pattern finds where some cue (or ignored phrase) starts: the regex
    engine rejects an alternative on its first letter cheaply, which it cannot do for one wrapped in a
    group per entry, and that is most of the scan's time. The entries, ignored phrases first, are then
    tried in order at that point, so the first entry that matches there wins.
    """
    data = json.loads((DATA_DIR / f"scenes_{lang}.json").read_text(encoding="utf-8"))
    entries: list[tuple[str, dict[str, str] | None]] = [(pattern, None) for pattern in data["ignore"]]
    entries += [("|".join(cue["patterns"]), {f: cue[f] for f in FACETS if f in cue}) for cue in data["cues"]]
    every = "|".join(pattern for pattern, _ in entries)
    return Lexicon(
        re.compile(_words(every) if lang == "en" else every),
        tuple((re.compile(_words(pattern) if lang == "en" else pattern), cue) for pattern, cue in entries),
        re.compile(data["negated"]),
    )


def _words(pattern: str) -> str:
    return rf"\b(?:{pattern})\b"


def _back_off(posts: dict[Key, Posts], min_posts: int) -> None:
    """Move each combination with too few posts into its most common generalisation, largest first."""
    for size in range(len(FACETS), 1, -1):
        for key in sorted(k for k in posts if len(k) == size):
            if len(posts[key]) >= min_posts:
                continue
            parents = [(key[:i] + key[i + 1 :], key[i][0]) for i in range(size)]
            parent, dropped = max(parents, key=lambda p: (len(posts.get(p[0], ())), -DROP_FIRST.index(p[1])))
            moved = {
                post: Counter({c: n for c, n in cues.items() if c[0] != dropped})
                for post, cues in posts.pop(key).items()
            }
            _add(posts.setdefault(parent, {}), moved)


def _keep_most_specific(posts: dict[Key, Posts]) -> None:
    """Count each post only in its most specific scenes: one in "出差 · 酒店" leaves "出差"."""
    by_post: dict[str, list[Key]] = {}
    for key, found in posts.items():
        for post in found:
            by_post.setdefault(post, []).append(key)
    for post, keys in by_post.items():
        for key in keys:
            if any(set(key) < set(other) for other in keys):
                del posts[key][post]


def _merge(scenes: list[Scene]) -> list[Scene]:
    """Fold each scene into the first larger one when both hold most of the larger one's posts."""
    kept: list[Scene] = []
    for scene in sorted(scenes, key=lambda s: (-len(s.posts), s.label)):
        home = next((k for k in kept if len(k.posts.keys() & scene.posts.keys()) >= MERGE_OVERLAP * len(k.posts)), None)
        if home is None:
            kept.append(scene)
        else:
            home.absorb(scene)
    return kept


def _finding(scene: Scene, scanned: int, order: dict[str, int]) -> dict[str, Any]:
    cues = Counter(word for found in scene.posts.values() for word in {word for _, word in found})
    examples = sorted(scene.posts, key=lambda p: (-sum(scene.posts[p].values()), order[p]))
    keywords = [word for word, _ in sorted(cues.items(), key=lambda c: (-c[1], c[0]))[:KEYWORD_TERMS]]
    facets = {f: " / ".join(scene.values[f]) if f in scene.values else None for f in OUTPUT_FACETS}
    return finding(scene.label, len(scene.posts) / scanned, len(scene.posts), examples, keywords, facets=facets)


def _add(into: Posts, more: Posts) -> None:
    for post, cues in more.items():
        into[post] = into.get(post, Counter()) + cues
