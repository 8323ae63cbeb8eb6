"""Q2 by the model: each post's polarity, with a score, and the emotions it carries, labelled in batches."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Annotated, Any, Self, get_args

from pydantic import AfterValidator, BaseModel, Field, WithJsonSchema, model_validator

from organism.gateway.structured import complete_json
from tasks.analysis import emotions as local
from tasks.analysis.emotions import EMOTIONS
from tasks.analysis.polarity import Label
from tasks.analysis.sources import Item
from tasks.analysis.text import extract_keywords, finding, item_text
from tasks.scan_models.asking import EMPTY, MAX_ITEMS, Citing, ItemId, by_score, once, payload, sample, scanned

LABEL_BATCH = 40  # items labelled per call
TOPIC_WORDS = 5  # keywords per language of an emotion's finding


def _an_emotion(value: str) -> str:
    if value not in EMOTIONS:
        raise ValueError(f"not one of the emotions {', '.join(EMOTIONS)}")
    return value


Emotion = Annotated[str, AfterValidator(_an_emotion), WithJsonSchema({"type": "string", "enum": list(EMOTIONS)})]


class ItemLabel(BaseModel):
    """One post's polarity, with a score from -1 (negative) to 1 (positive), and the emotions it carries."""

    id: ItemId
    polarity: Label
    score: float = Field(ge=-1, le=1)
    emotions: list[Emotion] = Field(max_length=len(EMOTIONS))


class LabelReply(Citing):
    items: list[ItemLabel]

    def cited(self) -> Iterable[str]:
        return (label.id for label in self.items)

    @model_validator(mode="after")
    def _each_item_once(self) -> Self:
        twice = sorted(post for post, count in Counter(self.cited()).items() if count > 1)
        if twice:
            raise ValueError(f"labels some items more than once ({', '.join(twice[:10])}); label each once")
        return self


def scan_emotions(items: list[Item], top_n: int = 10) -> dict[str, Any]:
    """:func:`tasks.analysis.emotions.scan_emotions`, by the model when one is configured.

    The model labels every item sent, ``LABEL_BATCH`` a call. The result has the local scan's shape:
    ``polarity`` shares, the labelled ``items``, the emotion ``distribution`` (each emotion's share of all
    emotion labels) and one finding per emotion (its share, the posts carrying it, the most polar first, and
    the keywords of those posts). ``unlabelled`` counts the items the model left out; shares are of the others.
    """

    def ask() -> dict[str, Any]:
        sent = sample(items, MAX_ITEMS)
        batches = [sent[start : start + LABEL_BATCH] for start in range(0, len(sent), LABEL_BATCH)]
        replies = [complete_json("scan_q2", {"items": payload(batch)}, LabelReply.sending(batch)) for batch in batches]
        labels = {label.id: label for reply in replies for label in reply.value.items}
        labelled = [(item, labels[item.id]) for item in sent if item.id in labels]
        polarity = Counter(label.polarity for _, label in labelled)
        felt = Counter(emotion for _, label in labelled for emotion in set(label.emotions))
        total = sum(felt.values())
        distribution = {e: round(felt[e] / total, 4) if total else 0.0 for e in EMOTIONS}
        findings = []
        for emotion in EMOTIONS:
            carriers = [pair for pair in labelled if emotion in pair[1].emotions]
            carriers.sort(key=lambda pair: (-abs(pair[1].score), pair[0].id))
            posts = [item for item, _ in carriers]
            if posts:
                found = finding(emotion, distribution[emotion], len(posts), [i.id for i in posts], _topics(posts))
                findings.append(found)
        findings.sort(key=by_score)
        return {
            "quadrant": "q2",
            "items_scanned": len(items),
            "items_sent": len(sent),
            "unlabelled": len(sent) - len(labelled),
            "polarity": {p: round(polarity[p] / len(labelled), 4) if labelled else 0.0 for p in get_args(Label)},
            "items": [
                {"id": item.id, "polarity": label.polarity, "score": label.score, "emotions": once(label.emotions)}
                for item, label in labelled
            ],
            "distribution": distribution,
            "findings": findings[:top_n],
            "engine": replies[-1].engine,
        }

    return scanned(lambda: local.scan_emotions(items, top_n=top_n), ask, None if items else EMPTY)


def _topics(items: list[Item]) -> list[str]:
    """What the posts carrying an emotion talk about: their leading YAKE keywords in each language."""
    texts: dict[str, list[str]] = {}
    for item in items:
        texts.setdefault(item.lang, []).append(item_text(item))
    return [k.text for lang, group in sorted(texts.items()) for k in extract_keywords(group, lang, top=TOPIC_WORDS)]
