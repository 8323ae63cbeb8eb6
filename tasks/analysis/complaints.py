"""Candidate complaints in a text: an aspect (what) paired with a problem word (what is wrong with it).

A text is cut into sentences and each sentence into clauses, at punctuation and at contrast words
("but", "但是", "不过"...), so that in "the staff were nice but the wifi never worked" praise of the
staff and the broken Wi-Fi stay apart. Within a clause, words are sorted by part of speech:

- aspects are nouns (runs of two become one aspect: "customer service", "服务态度"); Chinese tags
  come from jieba's dictionary via ``jieba.posseg`` (without its HMM, which is ten times slower);
- problem words are adjectives, words a lexicon marks as negative (VADER's for English) or as a
  problem (``data/pain_words_{en,zh}.json``: "drain", "queue", "故障", "多扣"...), and any word
  after a negator, whatever its part of speech ("not working", "doesn't charge", "不干净", "装不上");
  generic verdicts ("terrible", "差", "不好") are all one problem, :data:`GENERIC`, and words that say
  nothing of a problem even when negated ("not sure", "不知道") are skipped.

English tags come from the Brill lexicon that TextBlob (a dependency of nrclex) ships; it takes verbs
such as "work" or "drains" for nouns, which is why the lexicons and negation decide first.

Each problem word is paired with the nearest aspect in its clause, or, when the clause names none,
with the last aspect named earlier in the sentence ("房间很大, 但是不干净" is about the room). Chinese
falls back on a verb as the aspect when no noun is near ("送货太慢"). Praise pairs ("staff nice")
come out too: telling complaints from praise is left to the caller, who knows which texts are
negative. Everything is deterministic: the same text always gives the same pairs.
"""

from __future__ import annotations

import importlib.util
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from tasks.analysis.text import DATA_DIR, jieba_module, stopwords

MAX_ASPECT_WORDS = 2
GENERIC = "(poor)"  # the key of every generic verdict: "terrible", "worst", "差", "不好"
STEP = 2  # word positions are 2 apart, so a word split in two ("态度恶劣") keeps both halves in order

_EN_WORD = re.compile(r"[a-z0-9]+(?:[-'][a-z0-9]+)*")
_EN_SENTENCE = re.compile(r"[.!?;\n]+")
_EN_CLAUSE = re.compile(r"[,:()\"]+|\s[-–—]+\s|\b(?:but|however|although|though|yet|except|whereas|otherwise)\b")
_EN_NOISE = re.compile(r"https?://\S+|www\.\S+|@\w+|&amp;|&\w+;")
_EN_CONTRACTION = re.compile(
    r"\b(do|does|did|is|was|are|were|have|has|had|could|would|should|must|need|ai|ca|wo)(?:n't|nt)\b"
)
_EN_NEGATORS = frozenset(("not", "no", "never", "without", "cannot", "nobody", "nothing", "nor", "none"))
_EN_ABSENCE = frozenset(("no", "without", "none"))  # "no wifi": the thing itself is missing
_EN_NOUN_TAGS = ("NN", "FW")

_ZH_SENTENCE_END = frozenset("。！？!?；;…\n")
_ZH_CONTRAST = frozenset(("但是", "但", "不过", "可是", "然而", "只是", "就是", "却", "而是", "可惜"))
_ZH_NEGATORS = {
    **dict.fromkeys(("不", "不太", "不是", "并不", "从不", "别", "不怎么", "不大"), "不"),
    **dict.fromkeys(("没", "没有", "未", "从没", "从未", "无", "毫无"), "没"),
    **dict.fromkeys(("无法", "不能", "没法", "不会", "不了"), "不能"),
}
_ZH_DEGREE = tuple("太很超真挺蛮偏较好")  # leading degree adverbs fused into a word: "太慢", "偏贵"
_ZH_COMPLEMENTS = frozenset(("上", "了", "开", "动", "到", "住", "出", "下", "进", "起", "懂", "完", "清", "好"))
_ZH_NOUN_TAGS = frozenset(("n", "nz", "vn", "ng", "eng", "an"))
_ZH_PROBLEM_TAGS = frozenset(("a", "ad", "ag", "z"))


@dataclass(frozen=True)
class Complaint:
    """An aspect and a problem word said of it: normalised keys for counting, and the words as written."""

    aspect: str
    problem: str
    aspect_text: str
    problem_text: str

    @property
    def key(self) -> tuple[str, str]:
        return self.aspect, self.problem

    def phrase(self, lang: str) -> str:
        """How the pair reads: "wifi not working", "房间不干净"."""
        return f"{self.aspect_text}{self.problem_text}" if lang == "zh" else f"{self.aspect_text} {self.problem_text}"


@dataclass(frozen=True)
class _Word:
    """One classified word of a clause: an aspect, a verb (a fallback aspect), a problem or an opinion."""

    kind: str  # "aspect" | "verb" | "problem" | "opinion" (an adjective known only by its tag: said after its aspect)
    key: str
    text: str
    at: int


@dataclass(frozen=True)
class Reading:
    """What a text says: its complaints, and every word it uses as an aspect (of a complaint or not)."""

    complaints: tuple[Complaint, ...]
    aspects: frozenset[str]


def read(text: str, lang: str) -> Reading:
    """The aspect-problem pairs of a text, each once in order of first appearance, and its aspect words."""
    sentences = _zh_sentences(text) if lang == "zh" else _en_sentences(text)
    found: dict[tuple[str, str], Complaint] = {}
    for clauses in sentences:
        for pair in _pairs(clauses):
            found.setdefault(pair.key, pair)
    aspects = frozenset(w.key for clauses in sentences for clause in clauses for w in clause if w.kind == "aspect")
    return Reading(tuple(found.values()), aspects)


def _pairs(clauses: list[list[_Word]]) -> Iterator[Complaint]:
    """Pair each problem word with the nearest aspect of its clause, else the sentence's last one before it."""
    carried: _Word | None = None
    for clause in clauses:
        aspects = _aspect_runs(clause)
        verbs = [w for w in clause if w.kind == "verb"]
        for word in clause:
            if word.kind not in ("problem", "opinion"):
                continue
            # "offline mode", "free wifi": an adjective before its noun names a kind of thing, not a fault
            candidates = [a for a in aspects if word.kind == "problem" or a.at < word.at]
            aspect = _nearest(candidates, word) or carried or _nearest(verbs, word)
            if aspect is not None and aspect.key != word.key:
                yield Complaint(aspect.key, word.key, aspect.text, word.text)
        if aspects:
            carried = aspects[-1]


def _nearest(candidates: list[_Word], word: _Word) -> _Word | None:
    """The candidate closest to ``word``; on a tie the one before it (the subject)."""
    return min(candidates, key=lambda c: (abs(c.at - word.at), c.at > word.at), default=None)


def _aspect_runs(clause: list[_Word]) -> list[_Word]:
    """Adjacent aspect words as one aspect, keeping the last two ("battery life", "服务态度").

    A verb right after an aspect joins it ("驱动" "安装" -> "驱动安装", "前台" "入住" -> "前台入住").
    """
    runs: list[list[_Word]] = []
    for word in clause:
        if word.kind in ("problem", "opinion"):
            continue
        if runs and runs[-1][-1].at == word.at - STEP:
            runs[-1].append(word)
        elif word.kind == "aspect":
            runs.append([word])
    out = []
    for run in runs:
        run = run[-MAX_ASPECT_WORDS:]
        sep = "" if any(_is_cjk_word(w.text) for w in run) else " "
        out.append(_Word("aspect", " ".join(w.key for w in run), sep.join(w.text for w in run), run[-1].at))
    return out


def _is_cjk_word(word: str) -> bool:
    return bool(word) and "\u3400" <= word[0] <= "\u9fff"


# --- English -------------------------------------------------------------------------------------


def _en_sentences(text: str) -> list[list[list[_Word]]]:
    text = _EN_NOISE.sub(" ", text.lower().replace("\u2019", "'").replace("wi-fi", "wifi"))
    text = text.replace("can't", "can not").replace("won't", "will not").replace("cant ", "can not ")
    text = _EN_CONTRACTION.sub(lambda m: f"{m.group(1)} not", text).replace("n't", " not").replace("no one", "nobody")
    return [
        [_en_clause(clause) for clause in _EN_CLAUSE.split(sentence) if clause.strip()]
        for sentence in _EN_SENTENCE.split(text.replace("#", " "))
        if sentence.strip()
    ]


def _en_clause(clause: str) -> list[_Word]:
    stop, lexicon, valence = stopwords("en"), _lexicon("en"), _vader_lexicon()
    words: list[_Word] = []
    negator: str | None = None
    tagged = _tag(clause)
    for n, (word, tag) in enumerate(tagged):
        at, key = n * STEP, _en_key(word)
        if word in _EN_NEGATORS:
            negator = word
        elif not word[:1].isalpha():
            continue
        elif negator is not None:
            if word in lexicon.gap:
                continue
            if (
                negator in _EN_ABSENCE
                and tag.startswith(_EN_NOUN_TAGS)
                and key not in lexicon.problems | lexicon.neutral
            ):
                words += [_Word("aspect", key, word, at), _Word("problem", "no", "missing", at + 1)]
            elif key not in lexicon.neutral:
                shown = _gerund(word) if tag.startswith(("VB", "NN")) else word
                words.append(_problem(f"not {key}", f"not {shown}", at, lexicon))
            negator = None
        elif len(word) < 2 or key in lexicon.neutral:
            continue
        elif key in lexicon.problems or key in lexicon.generic or valence.get(word, 0.0) < 0:
            problem = _problem(key, word, at, lexicon)
            if tag.startswith("NN") and n + 1 < len(tagged) and tagged[n + 1][1].startswith("NN"):
                problem = _Word("opinion", problem.key, word, at)  # "offline mode", "error code": part of a name
            words.append(problem)
        elif word in stop:
            continue
        elif tag == "JJ" and "-" not in word:  # not JJR/JJS: "older version", "latest update" say when, not what
            words.append(_Word("opinion", key, word, at))
        elif tag == "VBG":  # "charging is slow", "boarding took forever"
            words.append(_Word("aspect", key, word, at))
        elif word in valence:  # other opinion words, neither aspects nor problems ("love", "thanks")
            continue
        elif tag.startswith(_EN_NOUN_TAGS) or "-" in word:
            words.append(_Word("aspect", key, word, at))
    return words


def _problem(key: str, text: str, at: int, lexicon: _Lexicon) -> _Word:
    """A problem word; a generic verdict ("terrible", "不好") is keyed as :data:`GENERIC`, keeping its wording."""
    return _Word("problem", GENERIC if key in lexicon.generic else key, text, at)


def _tag(clause: str) -> list[tuple[str, str]]:
    """The clause's words, each with its most frequent part-of-speech tag in Brill's lexicon.

    The lexicon is the one TextBlob ships, read as a file: TextBlob's own tagger adds context rules
    that seldom fire on lowercased posts but cost as much as the rest of the scan, and importing it
    loads nltk and scipy. A word the lexicon lacks is tagged by its ending, as Brill's tagger does.
    """
    lexicon = _brill_lexicon()
    return [(word, lexicon.get(word) or _unknown_tag(word)) for word in _EN_WORD.findall(clause)]


def _unknown_tag(word: str) -> str:
    if word.endswith("ing"):
        return "VBG"
    if word.endswith("ed"):
        return "VBD"
    if word.endswith("ly"):
        return "RB"
    return "NNS" if word.endswith("s") else "NN"


@lru_cache(maxsize=65536)
def _en_key(word: str) -> str:
    """The word with its inflection folded, so "works", "worked" and "working" count as one ("work").

    Only a key for counting, never shown. Hand-written because nltk's Porter stemmer, the library
    choice, costs 1.5 s of imports (nltk loads scipy) in a scan that has 8 s for 10,000 posts.
    """
    stem = word
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3 and not word.endswith(("ss", "us", "is")):
            stem = word[: -len(suffix)]
            break
    if stem != word and stem.endswith("i"):
        stem = stem[:-1] + "y"  # "batteries" meets "battery", "tried" meets "try"
    if len(stem) > 3 and stem.endswith("e"):
        stem = stem[:-1]  # "charge" meets "charging"
    if len(stem) > 3 and stem[-1] == stem[-2] and stem[-1] not in "aeiou":
        stem = stem[:-1]  # "stopped" meets "stop", "cancelled" meets "canceled"
    return stem


def _gerund(word: str) -> str:
    """The -ing form of a verb as written ("work", "worked", "works" -> "working"), for display only."""
    if word.endswith("ing") or len(word) < 3:
        return word
    if word.endswith("ied"):
        return word[:-3] + "ying"
    if word.endswith("ed"):
        return word[:-2] + "ing"
    if word.endswith(("ches", "shes", "sses", "xes", "zes")):
        return word[:-2] + "ing"
    if word.endswith("s") and not word.endswith("ss"):
        word = word[:-1]
    if word.endswith("e") and not word.endswith(("ee", "ye", "oe")):
        return word[:-1] + "ing"
    return word + "ing"


@lru_cache(maxsize=1)
def _brill_lexicon() -> dict[str, str]:
    """Brill's lexicon (word -> tag) as TextBlob ships it, found without importing TextBlob."""
    spec = importlib.util.find_spec("textblob")
    if spec is None or spec.origin is None:
        raise RuntimeError("complaints: the textblob package (a dependency of nrclex) is not installed")
    lines = (Path(spec.origin).parent / "en" / "en-lexicon.txt").read_text(encoding="utf-8").splitlines()
    return dict(line.split(" ", 1) for line in lines if line and not line.startswith(";;;"))


@lru_cache(maxsize=1)
def _vader_lexicon() -> dict[str, float]:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return {word: float(value) for word, value in SentimentIntensityAnalyzer().lexicon.items()}


# --- Chinese -------------------------------------------------------------------------------------


def _zh_sentences(text: str) -> list[list[list[_Word]]]:
    sentences: list[list[list[_Word]]] = [[[]]]
    negator: tuple[str, str] | None = None  # the pending negation: its key ("不", "没", "不能") and words so far
    tokens = _zh_tag(text)
    stop, lexicon = stopwords("zh"), _lexicon("zh")
    skip = False
    for n, (word, flag) in enumerate(tokens):
        at, clause = n * STEP, sentences[-1][-1]
        if skip:
            skip = False
        elif word in _ZH_SENTENCE_END or word in _ZH_CONTRAST or (flag == "x" and not word.isalnum()):
            sentences.append([[]]) if word in _ZH_SENTENCE_END else sentences[-1].append([])
            negator = None
        elif word in _ZH_NEGATORS:
            before, before_flag = tokens[n - 1] if n else ("", "")
            after = tokens[n + 1][0] if n + 1 < len(tokens) else ""
            if word in ("不", "没") and after in _ZH_COMPLEMENTS and before_flag.startswith("v"):
                if clause and clause[-1].at == at - STEP:  # "装不上", "打不开": a verb that fails, with its complement
                    clause.pop()
                clause.append(_problem(f"{before}不{after}", f"{before}{word}{after}", at, lexicon))
                skip = True
            else:
                negator = (_ZH_NEGATORS[word], word)
        elif negator is not None:
            if word in lexicon.gap:
                negator = (negator[0], negator[1] + word)
                continue
            base = _zh_strip_degree(word, lexicon)
            if base not in lexicon.neutral:
                clause.append(_problem(negator[0] + base, negator[1] + word, at, lexicon))
            negator = None
        elif (base := _zh_strip_degree(word, lexicon)) in lexicon.neutral:
            continue
        elif base in lexicon.problems or base in lexicon.generic:
            clause.append(_problem(base, word, at, lexicon))
        elif flag in _ZH_PROBLEM_TAGS and word not in stop:
            clause.append(_Word("opinion", base, word, at))
        elif len(word) == 3 and word[1] in "不没" and word[2] in _ZH_COMPLEMENTS:  # "连不上" as one word
            clause.append(_problem(f"{word[0]}不{word[2]}", word, at, lexicon))
        elif word in stop or len(word) < 2:
            continue
        elif (split := _zh_split_problem(word, lexicon)) is not None:  # "态度恶劣": an aspect and its problem
            clause += [_Word("aspect", split[0], split[0], at), _problem(split[1], split[1], at + 1, lexicon)]
        elif flag in _ZH_NOUN_TAGS or (word.isascii() and word.isalpha()):
            clause.append(_Word("aspect", word.lower(), word, at))
        elif flag.startswith("v"):
            clause.append(_Word("verb", word, word, at))
    return [[c for c in s if c] for s in sentences if any(s)]


def _zh_strip_degree(word: str, lexicon: _Lexicon) -> str:
    """A word without a fused leading degree adverb when the rest is a problem or an adjective ("太慢" -> "慢")."""
    if len(word) > 1 and word.startswith(_ZH_DEGREE):
        rest = word[1:]
        if rest in lexicon.problems or rest in lexicon.generic or _zh_tags().get(rest, "").startswith("a"):
            return rest
    return word


def _zh_split_problem(word: str, lexicon: _Lexicon) -> tuple[str, str] | None:
    """A dictionary word that fuses a noun and a problem ("态度恶劣", "服务差劲"), split in two; else None."""
    for cut in range(2, len(word) - 1):
        head, tail = word[:cut], word[cut:]
        if (tail in lexicon.problems or tail in lexicon.generic) and _zh_tags().get(head, "").startswith("n"):
            return head, tail
    return None


def _zh_tag(text: str) -> list[tuple[str, str]]:
    """jieba's words and tags, with adjacent words that together make a problem word joined ("多" "扣" -> "多扣")."""
    import jieba.posseg

    jieba_module()  # quiet, and its dictionary loaded once
    problems = _lexicon("zh").problems
    tagged: list[tuple[str, str]] = []
    for pair in jieba.posseg.lcut(text, HMM=False):
        word, flag = pair.word, pair.flag
        if not word.strip():
            continue
        if tagged and tagged[-1][0] + word in problems:
            word, flag = tagged.pop()[0] + word, "a"
        tagged.append((word, flag))
    return tagged


@lru_cache(maxsize=1)
def _zh_tags() -> dict[str, str]:
    """jieba's dictionary word -> part-of-speech tag table (loaded with jieba.posseg)."""
    import jieba.posseg

    return dict(jieba.posseg.dt.word_tag_tab)


@dataclass(frozen=True)
class _Lexicon:
    """A language's shipped word lists (``data/pain_words_{lang}.json``), English ones stemmed."""

    problems: frozenset[str]
    generic: frozenset[str]
    neutral: frozenset[str]
    gap: frozenset[str]  # words that may stand between a negator and what it negates ("not even working")


@lru_cache(maxsize=2)
def _lexicon(lang: str) -> _Lexicon:
    data = json.loads((DATA_DIR / f"pain_words_{lang}.json").read_text(encoding="utf-8"))
    norm = (lambda w: " ".join(_en_key(part) for part in w.split())) if lang == "en" else (lambda w: w)
    problems, generic, neutral = (frozenset(norm(w) for w in data[name]) for name in ("problems", "generic", "neutral"))
    return _Lexicon(problems, generic, neutral, frozenset(data["negation_gap"]))
