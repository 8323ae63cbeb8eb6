"""A run's DAG laid out for an SVG: one column per phase, an edge from every node of a phase to every node of the
next. That is the shape of Organism's workflows (chains of chords: a phase starts when the whole previous
phase has finished). Pure functions of the nodes, so the picture is tested without a browser.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Protocol

BOX_W, BOX_H = 180, 54
GAP_X, GAP_Y, MARGIN, HEADER = 70, 16, 16, 26


class NodeLike(Protocol):
    name: str
    phase: int
    phase_name: str
    skill: str
    status: str


@dataclass(frozen=True)
class Box:
    name: str
    skill: str
    status: str  # as the operator reads it (organism.workflows.queries.node_status)
    x: int
    y: int
    seconds: float | None

    @property
    def css(self) -> str:
        """The status as a class name: ``not run (upstream failed)`` is ``not-run``."""
        return self.status.split(" (")[0].replace(" ", "-")


@dataclass(frozen=True)
class Column:
    title: str
    x: int


@dataclass(frozen=True)
class Layout:
    width: int
    height: int
    columns: list[Column]
    boxes: list[Box]
    edges: list[str]  # SVG path data, one cubic curve per dependency

    box_w: int = BOX_W
    box_h: int = BOX_H


def layout(nodes: Sequence[NodeLike], seconds: dict[str, float | None],
           statuses: dict[str, str] | None = None) -> Layout:
    """Place ``nodes`` (``seconds``: each node's duration by name, if finished; ``statuses``: each node's status as
    shown, if not its own)."""
    shown = statuses or {}
    phases: dict[int, list[NodeLike]] = {}
    for node in sorted(nodes, key=lambda n: (n.phase, n.name)):
        phases.setdefault(node.phase, []).append(node)
    tallest = max((len(members) for members in phases.values()), default=0)
    height = 2 * MARGIN + HEADER + tallest * BOX_H + max(tallest - 1, 0) * GAP_Y
    columns, placed = [], []
    for index, members in enumerate(phases.values()):
        x = MARGIN + index * (BOX_W + GAP_X)
        columns.append(Column(members[0].phase_name, x))
        span = len(members) * BOX_H + (len(members) - 1) * GAP_Y
        top = MARGIN + HEADER + (height - 2 * MARGIN - HEADER - span) // 2
        placed.append([Box(n.name, n.skill, shown.get(n.name, n.status), x, top + i * (BOX_H + GAP_Y),
                           seconds.get(n.name))
                       for i, n in enumerate(members)])
    edges = [_curve(a, b) for before, after in pairwise(placed) for a in before for b in after]
    width = 2 * MARGIN + len(phases) * BOX_W + max(len(phases) - 1, 0) * GAP_X
    return Layout(width, height, columns, [box for column in placed for box in column], edges)


def _curve(a: Box, b: Box) -> str:
    x1, y1 = a.x + BOX_W, a.y + BOX_H // 2
    x2, y2 = b.x, b.y + BOX_H // 2
    middle = (x1 + x2) // 2
    return f"M{x1},{y1} C{middle},{y1} {middle},{y2} {x2},{y2}"
