"""What the model path's scans share: the items sent, the ids a reply may cite, and the fall back to the local scan.

A reply schema derives from :class:`Citing` and types the ids it cites as :data:`ItemId`; bound to one call's
items by :meth:`Citing.sending`, its JSON schema lists their ids and a reply citing any other is invalid, with an
error the model is shown in the repair attempt.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from typing import Annotated, Any, ClassVar, Self

from pydantic import BaseModel, WithJsonSchema, create_model, model_validator

from organism.gateway.client import model_configured
from organism.gateway.structured import MODEL_UNAVAILABLE, NO_MODEL, InvalidReply, deterministic, without_model
from tasks.analysis.sources import Item
from tasks.analysis.text import item_text

MAX_ITEMS = 120  # items one prompt carries (the trend scan: half from the window, half from before it)
TEXT_CHARS = 400  # of an item's title and text
EMPTY = "no items in the window"  # why a scan of no items does not ask the model
_ID_MARK = "x-item-id"  # stands in the JSON schema for the enum of the ids sent

ItemId = Annotated[str, WithJsonSchema({"type": "string", _ID_MARK: True})]
Result = dict[str, Any]


class Citing(BaseModel):
    """A reply that cites items by id. :meth:`sending` binds it to the ids of one call's items."""

    sent: ClassVar[tuple[str, ...]] = ()

    def cited(self) -> Iterable[str]:
        """Every item id the reply cites."""
        raise NotImplementedError

    @model_validator(mode="after")
    def _cites_items_sent(self) -> Self:
        unknown = sorted(set(self.cited()) - set(self.sent))
        if unknown:
            raise ValueError(
                f"cites {len(unknown)} id(s) of no item sent ({', '.join(unknown[:10])}); "
                "cite only the ids of the items given"
            )
        return self

    @classmethod
    def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """The JSON schema, with the ids sent as the values an item id may take."""
        schema: dict[str, Any] = _enumerate_ids(super().model_json_schema(*args, **kwargs), list(cls.sent))
        return schema

    @classmethod
    def sending(cls, items: Sequence[Item]) -> type[Self]:
        """This schema for a call that sends ``items``."""
        bound = create_model(cls.__name__, __base__=cls, __module__=cls.__module__)
        bound.sent = tuple(item.id for item in items)
        return bound


def _enumerate_ids(schema: Any, ids: list[str]) -> Any:
    if isinstance(schema, dict):
        if schema.get(_ID_MARK):
            return {"type": "string", "enum": ids}
        return {key: _enumerate_ids(value, ids) for key, value in schema.items()}
    if isinstance(schema, list):
        return [_enumerate_ids(value, ids) for value in schema]
    return schema


def sample(items: Sequence[Item], limit: int) -> list[Item]:
    """At most ``limit`` of ``items``, in their order: all of them, or the ``limit`` whose ids hash lowest.

    Hashing the ids makes the choice the same on every run over the same window, and unrelated to the order
    of the sources or the time of day.
    """
    if len(items) <= limit:
        return list(items)
    ranked = sorted(range(len(items)), key=lambda n: hashlib.sha256(items[n].id.encode()).hexdigest())
    return [items[n] for n in sorted(ranked[:limit])]


def payload(items: Sequence[Item], **fields: str) -> list[dict[str, Any]]:
    """The items as the model sees them: id, language, text (title included, cut to ``TEXT_CHARS``)."""
    shown = []
    for item in items:
        text = item_text(item)
        cut = len(text) > TEXT_CHARS
        shown.append({"id": item.id, "lang": item.lang, "text": text[:TEXT_CHARS], "truncated": cut, **fields})
    return shown


def scanned(local: Callable[[], Result], ask: Callable[[], Result], idle: str | None) -> Result:
    """The model's scan (``ask``) if a model is configured and answers validly, else the ``local`` one saying why.

    ``idle`` is a reason not to ask the model at all, such as nothing to scan.
    """
    if not model_configured():
        return {**local(), "engine": NO_MODEL}
    if idle:
        return {**local(), "engine": deterministic(idle)}
    try:
        return ask()
    except (*MODEL_UNAVAILABLE, InvalidReply) as error:
        return {**local(), "engine": without_model(error)}


def once(ids: Iterable[str]) -> list[str]:
    """The ids without repeats, in their first order."""
    return list(dict.fromkeys(ids))


def by_score(found: Result) -> tuple[float, str]:
    """Sort key of findings: highest score first, then by theme."""
    return -found["score"], found["theme"]
