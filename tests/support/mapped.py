"""A workflow that maps a skill over many items (organism.workflows.mapping): the squares of 0..count-1 in chunks,
then their total; ``test.square`` refuses the items listed in ``refuse``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from organism.errors import PermanentError
from organism.skill import skill
from organism.workflows.declaration import Workflow
from organism.workflows.mapping import each, map_then
from organism.workflows.plan import Plan, RunContext
from organism.workflows.registry import declare

MAP_SQUARES = "map-squares"


class SquaresParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    count: int = Field(ge=0)
    chunk_size: int = Field(ge=1)
    tag: str
    refuse: tuple[int, ...] = ()


@skill(organ="perception", name="test.square", effect="read-only")
def square(n: int, refuse: list[int] | None = None) -> int:
    if n in (refuse or []):
        raise PermanentError(f"{n} is refused")
    return n * n


SQUARE_EACH = each(square)


@skill(organ="perception", name="test.total", effect="read-only")
def total(results: list[int]) -> dict[str, Any]:
    return {"count": len(results), "sum": sum(results), "results": results}


def build(ctx: RunContext) -> Plan:
    params: SquaresParams = ctx.params  # type: ignore[assignment]
    return map_then(ctx, SQUARE_EACH, list(range(params.count)), total.s(), name="square", then_name="total",
                    chunk_size=params.chunk_size, refuse=list(params.refuse))


declare(Workflow(name=MAP_SQUARES, params=SquaresParams, key=lambda params: params.tag, build=build,
                 description="The squares of 0..count-1, in chunks, then their total"))
