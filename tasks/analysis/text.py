"""Shared text helpers for the quadrant scanners.

Language detection, tokenization (jieba for Chinese, a regex for English), YAKE keywords that
also work for Chinese, and the small structures the scanners share (polarity has a module of its
own: ``polarity``). Everything runs offline on data shipped with the installed
packages or in ``data/``; heavy libraries are imported on first use so a scanner only pays for
what it needs.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache, cached_property, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tasks.analysis.sources import Item

DATA_DIR = Path(__file__).with_name("data")
MAX_EXAMPLES = 8
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z]+")
_EN_TOKEN = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*(?:'[a-z]+)?")
_ZH_SENTENCE_END = frozenset("。！？!?；;…\n")
# Alias alphabet for Chinese tokens fed to YAKE: letters only (YAKE tags digits as noise) and no
# "s" (YAKE strips a trailing "s" as an English plural).
_ALIAS_LETTERS = "abcdefghijklmnopqrtuvwxyz"


@dataclass(frozen=True)
class Keyword:
    """A keyword phrase: display text, normalised tokens used for matching, and YAKE weight."""

    text: str
    tokens: tuple[str, ...]
    weight: float  # YAKE score: lower means more relevant

    @property
    def key(self) -> str:
        return f" {' '.join(self.tokens)} "


@dataclass(frozen=True)
class Doc:
    """An item reduced to what the scanners need: id, language, text and content tokens."""

    id: str
    lang: str
    text: str
    tokens: tuple[str, ...]
    published: datetime | None = None

    @cached_property
    def joined(self) -> str:
        return f" {' '.join(self.tokens)} "

    def has(self, keyword: Keyword) -> bool:
        """Whether the keyword's tokens occur contiguously in this document."""
        return keyword.key in self.joined


def detect_lang(text: str) -> str:
    """Return "zh" when CJK characters dominate the text, else "en".

    A CJK character is counted as roughly one Latin word, so a Chinese post that names an English
    product is still Chinese, and an English post quoting one Chinese word is still English.
    """
    cjk = len(_CJK.findall(text))
    return "zh" if cjk and cjk >= len(_LATIN_WORD.findall(text)) else "en"


def item_text(item: Item) -> str:
    """Title and body as one text, with a sentence break between them."""
    if not item.title or item.text.startswith(item.title):
        return item.text
    end = "" if item.title[-1] in ".!?。！？" else ("。" if item.lang == "zh" else ".")
    return f"{item.title}{end} {item.text}" if item.lang != "zh" else f"{item.title}{end}{item.text}"


def make_docs(items: Iterable[Item]) -> list[Doc]:
    """Tokenize each item once for the scanners."""
    docs = []
    for item in items:
        text = item_text(item)
        docs.append(Doc(item.id, item.lang, text, tokenize(text, item.lang), item.published))
    return docs


@cache
def stopwords(lang: str) -> frozenset[str]:
    """Stopwords for "en" or "zh" from the shipped lists."""
    path = DATA_DIR / f"stopwords_{lang}.txt"
    lines = path.read_text(encoding="utf-8").splitlines()
    return frozenset(word for line in lines if not line.startswith("#") for word in line.split())


def words(text: str, lang: str) -> list[str]:
    """All word tokens in order, lowercased, stopwords kept (for negation and cue checks)."""
    if lang == "zh":
        return [w.lower() for w in jieba_module().lcut(text) if w.strip() and (_CJK.search(w) or w.isalnum())]
    return _EN_TOKEN.findall(text.lower().replace("\u2019", "'"))


@lru_cache(maxsize=16384)
def tokenize(text: str, lang: str) -> tuple[str, ...]:
    """Content tokens: lowercased, stopwords and one-character tokens dropped, English plurals folded."""
    stop = stopwords(lang)
    out = []
    for word in words(text, lang):
        word = word.removesuffix("'s")
        if word in stop or len(word) < 2:
            continue
        out.append(stem(word) if lang == "en" else word)
    return tuple(out)


def stem(word: str) -> str:
    """Fold simple English plurals ("delays" -> "delay") so counts are not split by number."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def extract_keywords(texts: Sequence[str], lang: str, top: int = 30) -> list[Keyword]:
    """Rank key phrases (one or two words) across the given texts with YAKE.

    Chinese needs two adjustments: YAKE splits on whitespace, so the text is segmented with jieba
    first, and YAKE treats any token shorter than three characters as a stopword, which would
    discard nearly every Chinese word. Each Chinese word is therefore replaced by a unique
    alphabetic alias before YAKE and mapped back afterwards; stopwords and single characters are
    passed to YAKE as stopword aliases, mirroring its own short-token rule.
    """
    if not texts:
        return []
    import yake

    stop = stopwords(lang)
    if lang == "zh":
        corpus, stop_set, back = _alias_chinese(texts, stop)
    else:
        corpus = "\n".join(t if t.rstrip()[-1:] in ".!?" else f"{t}." for t in texts)
        stop_set, back = set(stop), {}
    extractor = yake.KeywordExtractor(lan=lang, n=2, dedup_lim=0.9, top=top * 2, stopwords=stop_set)
    found: dict[tuple[str, ...], Keyword] = {}
    for phrase, weight in extractor.extract_keywords(corpus):
        parts = [back.get(part, part) for part in phrase.lower().split()]
        tokens = tokenize(" ".join(parts), lang) if lang == "en" else tuple(parts)
        if len(tokens) != len(parts) or tokens in found:
            continue
        display = "".join(parts) if lang == "zh" and all(_CJK.search(p) for p in parts) else " ".join(tokens)
        found[tokens] = Keyword(display, tokens, float(weight))
        if len(found) == top:
            break
    return list(found.values())


def _alias_chinese(texts: Sequence[str], stop: frozenset[str]) -> tuple[str, set[str], dict[str, str]]:
    alias: dict[str, str] = {}
    stop_aliases: set[str] = set()
    sentences = []
    for text in texts:
        out = []
        for word in jieba_module().lcut(text):
            if word in _ZH_SENTENCE_END:
                out.append(".")
            elif not word.strip():
                continue
            elif not (_CJK.search(word) or word.isalnum()):
                out.append(",")
            elif _CJK.search(word):
                token = alias.setdefault(word, _alias_name(len(alias)))
                if word in stop or len(word) < 2:
                    stop_aliases.add(token)
                out.append(token)
            else:
                out.append(word.lower())
        sentences.append(" ".join(out) + " .")
    return "\n".join(sentences), stop_aliases | set(stop), {v: k for k, v in alias.items()}


def _alias_name(n: int) -> str:
    digits = ""
    while True:
        n, rest = divmod(n, len(_ALIAS_LETTERS))
        digits = _ALIAS_LETTERS[rest] + digits
        if n == 0:
            return "zq" + digits


@lru_cache(maxsize=1)
def jieba_module() -> Any:
    """jieba, imported on first use and quiet; every scan that segments Chinese gets it here."""
    import jieba

    jieba.setLogLevel(logging.WARNING)  # otherwise it logs "Building prefix dict" on first use
    return jieba


def warm_up() -> None:
    """Load jieba's dictionary now rather than inside the first scan.

    Worth calling once per worker process; jieba's dictionary alone takes most of a second.
    """
    jieba_module().initialize()


def finding(
    theme: str, score: float, mentions: int, examples: Sequence[str], keywords: Sequence[str], **extra: Any
) -> dict[str, Any]:
    """One entry of a scan's ``findings`` list in the shape every quadrant shares."""
    return {
        "theme": theme,
        "score": round(float(score), 4),
        "mentions": int(mentions),
        "examples": list(examples)[:MAX_EXAMPLES],
        "keywords": list(keywords),
        **extra,
    }
