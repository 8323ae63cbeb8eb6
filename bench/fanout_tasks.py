"""One fan-out, three ways, for ``bench.fanout``: a no-op per item, then the total of every item's result.

* Organism: the workflow ``fanout`` maps the skill ``bench.fan_item`` over ``items`` in chunks of ``chunk_size``
  (``organism.workflows.mapping``: a node per chunk), then hands every result to the skill ``bench.fan_total``;
* stock Celery: a chord of one ``bench.raw_fan_item`` per item, or of Celery's own ``chunks`` of it, into a total;
* Dramatiq's ``group`` of its no-op actor (``bench.dramatiq_app``), every result awaited.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task
from pydantic import BaseModel, ConfigDict, Field

from organism.skill import skill
from organism.workflows.declaration import Workflow
from organism.workflows.mapping import each, map_then
from organism.workflows.plan import Plan, RunContext
from organism.workflows.registry import declare

FANOUT = "fanout"
ORGAN = "perception"
RAW_ITEM, RAW_TOTAL, RAW_CHUNKS_TOTAL = "bench.raw_fan_item", "bench.raw_fan_total", "bench.raw_fan_chunks_total"


class FanoutParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    items: int = Field(ge=1)
    chunk_size: int = Field(ge=1)
    tag: str


@skill(organ=ORGAN, name="bench.fan_item", effect="read-only")
def fan_item(n: int) -> int:
    return n


FAN_EACH = each(fan_item)


@skill(organ=ORGAN, name="bench.fan_total", effect="read-only")
def fan_total(results: list[int]) -> dict[str, int]:
    return {"count": len(results), "sum": sum(results)}


def build(ctx: RunContext) -> Plan:
    params: FanoutParams = ctx.params  # type: ignore[assignment]
    return map_then(ctx, FAN_EACH, range(params.items), fan_total.s(), name="item", then_name="total",
                    chunk_size=params.chunk_size)


declare(Workflow(name=FANOUT, params=FanoutParams, key=lambda params: params.tag, build=build,
                 description="bench.fanout: a no-op over every item, in chunks, then the total"))


@shared_task(name=RAW_ITEM)
def raw_fan_item(n: int) -> int:
    return n


@shared_task(name=RAW_TOTAL)
def raw_fan_total(results: list[int]) -> dict[str, int]:
    return {"count": len(results), "sum": sum(results)}


@shared_task(name=RAW_CHUNKS_TOTAL)
def raw_fan_chunks_total(parts: list[list[Any]]) -> dict[str, int]:
    return raw_fan_total([n for part in parts for n in part])
