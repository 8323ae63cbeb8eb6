"""The features the polarity models read: words and character n-grams, scoped by clause.

A text is cut into clauses at punctuation and at contrast words ("but", "however", "但是", "不过"...).
Within a clause:

- **negation** reaches over the rest of the clause, not one character or word: after "not", "never",
  "n't", "不", "没有"... every word up to the clause's end or a conjunction that starts a new thought
  ("and", "because", "而且") is read as its negated form (``NOT_clean``), so "not clean at all" and
  "不太干净" are not read as "clean" and "干净";
- **degree** words scale the next word ("very good" counts "good" 1.5 times, "a bit slow" half);
- **contrast** weighs what follows it over what precedes it, within the sentence: in "the staff were
  nice, but the wifi never worked and the bed was awful", the clauses from "but" on count three times
  as much as the one before.

Word pairs (within the clause) and character n-grams add context the single words miss: 3 to 5 characters
within English words, 1 to 3 characters of Chinese. The same function makes the training features
(``devtools/train_polarity.py``) and the features read at run time, so the two never drift apart.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from functools import lru_cache
from itertools import pairwise

from tasks.analysis.text import jieba_module

SENTENCE_BREAK = re.compile(r"[.!?\n。！？…]+")
CLAUSE_BREAK = re.compile(r"[,;:，；：、~～()（）\[\]【】]+")
_URL = re.compile(r"https?://\S+|www\.\S+")
_MENTION = re.compile(r"@\w+")
_EN_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
_CHAR_TEXT = re.compile(r"[a-z]+|[\u3400-\u9fff]+")

EN_NEGATORS = frozenset(
    ("not", "no", "never", "without", "hardly", "barely", "nothing", "nobody", "none", "neither", "nor", "cannot",
     "cant", "dont", "didnt", "doesnt", "isnt", "wasnt", "arent", "werent", "wont", "wouldnt", "couldnt",
     "shouldnt", "havent", "hasnt", "aint")
)  # fmt: skip
EN_SCOPE_END = frozenset(("and", "or", "because", "so", "while", "which", "when"))
EN_CONTRAST = frozenset(("but", "however", "though", "although", "yet"))
EN_DEGREE = {
    "very": 1.5, "really": 1.5, "so": 1.5, "too": 1.5, "extremely": 2.0, "super": 1.5, "absolutely": 1.5,
    "totally": 1.5, "completely": 1.5, "quite": 1.2, "pretty": 1.2, "bit": 0.5, "slightly": 0.5,
    "somewhat": 0.6, "kinda": 0.6, "little": 0.6,
}  # fmt: skip
ZH_NEGATORS = frozenset(("不", "没", "没有", "无", "未", "别", "非", "并不", "不太", "不是", "不够", "不会", "不能",
                         "毫无", "从不", "不怎么", "从没", "没什么"))  # fmt: skip
ZH_SCOPE_END = frozenset(("而且", "并且", "还", "所以", "因为", "然后"))
ZH_CONTRAST = frozenset(("但", "但是", "不过", "可是", "然而", "却", "只是", "就是"))
ZH_DEGREE = {
    "很": 1.5, "非常": 2.0, "太": 1.5, "特别": 1.5, "十分": 1.5, "超": 1.5, "超级": 1.5, "挺": 1.2, "比较": 1.1,
    "有点": 0.6, "有点儿": 0.6, "有些": 0.6, "稍微": 0.5, "略": 0.6, "极": 2.0, "极其": 2.0, "相当": 1.5,
    "真": 1.3, "真的": 1.3, "最": 1.5,
}  # fmt: skip
BEFORE_CONTRAST = 0.5
AFTER_CONTRAST = 1.5
CHAR_WEIGHT = 0.5  # n-grams overlap heavily, so each counts for less than a word
NEGATED = "NOT_"
CHAR_PREFIX = "#"  # marks a character n-gram among the features


def features(text: str, lang: str) -> defaultdict[str, float]:
    """Weighted feature counts of one text in ``lang`` ("en" or "zh")."""
    counts: defaultdict[str, float] = defaultdict(float)
    for words, weight in weighted_clauses(text, lang):
        _word_features(words, weight, lang, counts)
        _char_features(words, weight, lang, counts)
    return counts


Clause = tuple[tuple[str, ...], float]  # a clause's words and its contrast weight


@lru_cache(maxsize=256)
def weighted_clauses(text: str, lang: str) -> tuple[Clause, ...]:
    """The text's clauses as word lists, each with its contrast weight.

    Cached for a few texts: a scan that reads both a text's polarity and its emotions cuts it once.

    Within a sentence, the clauses before a contrast word weigh ``BEFORE_CONTRAST`` and the clauses
    from it to the end of the sentence ``AFTER_CONTRAST``; a sentence without one weighs 1 throughout.
    """
    contrast = ZH_CONTRAST if lang == "zh" else EN_CONTRAST
    weighted: list[Clause] = []
    for sentence in SENTENCE_BREAK.split(_clean(text, lang)):
        clauses: list[list[str]] = []
        turn = None  # index of the clause that starts with the sentence's first contrast word
        for piece in CLAUSE_BREAK.split(sentence):
            current: list[str] = []
            for word in _words(piece, lang):
                if word in contrast:
                    if current:
                        clauses.append(current)
                        current = []
                    turn = len(clauses) if turn is None else turn
                current.append(word)
            if current:
                clauses.append(current)
        for i, words in enumerate(clauses):
            weight = 1.0 if turn is None else BEFORE_CONTRAST if i < turn else AFTER_CONTRAST
            weighted.append((tuple(words), weight))
    return tuple(weighted)


def affirmed(text: str, lang: str) -> list[list[str]]:
    """The runs of words outside every negation's scope: the parts of the text that are not negated."""
    runs: list[list[str]] = []
    for words, _ in weighted_clauses(text, lang):
        run: list[str] = []
        for word, negated in zip(words, negation_scope(words, lang), strict=True):
            if negated:
                if run:
                    runs.append(run)
                run = []
            else:
                run.append(word)
        if run:
            runs.append(run)
    return runs


def negation_scope(words: Sequence[str], lang: str) -> list[bool]:
    """Per word of a clause, whether a negator before it reaches it (a negator itself is not negated)."""
    negators = ZH_NEGATORS if lang == "zh" else EN_NEGATORS
    scope_end = ZH_SCOPE_END if lang == "zh" else EN_SCOPE_END
    flags, negated = [], False
    for word in words:
        if word in scope_end:
            negated = False
        flags.append(negated and word not in negators)
        negated = negated or word in negators
    return flags


def _word_features(words: tuple[str, ...], weight: float, lang: str, counts: defaultdict[str, float]) -> None:
    degree = ZH_DEGREE if lang == "zh" else EN_DEGREE
    boost = 1.0
    marked = []
    for word, negated in zip(words, negation_scope(words, lang), strict=True):
        if word in degree:
            boost = degree[word]
            marked.append(word)
            counts[word] += weight
            continue
        feature = NEGATED + word if negated else word
        marked.append(feature)
        counts[feature] += weight * boost
        boost = 1.0
    for first, second in pairwise(marked):
        counts[f"{first} {second}"] += weight


def _char_features(words: tuple[str, ...], weight: float, lang: str, counts: defaultdict[str, float]) -> None:
    if lang == "zh":
        for run in _CHAR_TEXT.findall("".join(words)):
            for n in (1, 2, 3):
                for i in range(len(run) - n + 1):
                    counts[CHAR_PREFIX + run[i : i + n]] += weight * CHAR_WEIGHT
        return
    for word in words:
        padded = f"<{word}>"
        for n in (3, 4, 5):
            for i in range(len(padded) - n + 1):
                counts[CHAR_PREFIX + padded[i : i + n]] += weight * CHAR_WEIGHT


def _clean(text: str, lang: str) -> str:
    text = _URL.sub(" ", text)
    if lang == "en":
        # Handles name the company, not the feeling; "n't" is a negator of its own.
        text = _MENTION.sub(" ", text).lower().replace("’", "'").replace("n't", " not")
    return text


def _words(piece: str, lang: str) -> list[str]:
    if lang == "zh":
        return [word for word in jieba_module().lcut(piece) if word.strip()]
    return _EN_WORD.findall(piece)
