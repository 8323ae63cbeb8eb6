"""A bar chart laid out for an SVG: pure arithmetic, so pages need no charting library (and no CDN).

Across, positions are percentages of the chart's width (``WIDTH`` is 100), so the chart fills its box at any width
while its text keeps its size; down, they are pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

WIDTH, HEIGHT, LABEL_H, VALUE_H = 100, 180, 20, 16


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    x: float
    y: float
    w: float
    h: float


def bars(values: list[tuple[str, float]], width: int = WIDTH, height: int = HEIGHT) -> list[Bar]:
    """One bar per (label, value), scaled to the largest value; bars of 0 are drawn 1 px high to stay visible."""
    if not values:
        return []
    slot = width / len(values)
    plot = height - LABEL_H - VALUE_H
    top = max(value for _, value in values) or 1.0
    placed = []
    for index, (label, value) in enumerate(values):
        h = max(1.0, plot * value / top)
        placed.append(Bar(label, value, index * slot + slot * 0.15, VALUE_H + plot - h, slot * 0.7, h))
    return placed
