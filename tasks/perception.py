"""Perception (P0): the four quadrant scans over the items of the configured sources published in a window.

Each scan's result says which ``window`` it covered (ISO strings), how many items it scanned
(``items_scanned``), and how many it left out: ``undated`` (no publication time) and ``outside``
(published outside the window). The trend scan's window also names its ``baseline`` span, the
``history`` windows of the same length before it, and ``outside`` counts what falls outside both.

With a model configured the scans ask it, through :mod:`tasks.scan_models`, and fall back to their local
analysis (degraded, with the reason) when it is unavailable or its reply stays invalid; the result's ``engine``
says which path made it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from celery import signals
from pydantic import Field

from organism.skill import skill
from tasks import scan_models
from tasks.analysis.polarity import load_models
from tasks.analysis.sources import Loaded, Window, load_window
from tasks.analysis.text import warm_up


@signals.worker_init.connect
def _warm_up(sender: Any = None, **_: Any) -> None:
    """Load the language models in a perception worker's parent, so every pool child starts with them."""
    if sender is not None and "perception" in sender.app.amqp.queues.consume_from:
        warm_up()
        load_models()


def _scan(scan: Callable[..., dict[str, Any]], sources: list[str], window: Window, top_n: int) -> dict[str, Any]:
    """Run one scanner over the items of ``window``, and say what it covered and left out."""
    loaded = load_window(sources, window)
    return {**scan(loaded.items, top_n=top_n), **_coverage(window.as_json(), loaded)}


def _coverage(window: dict[str, Any], loaded: Loaded) -> dict[str, Any]:
    return {"window": window, "undated": loaded.undated, "outside": loaded.outside}


@skill(organ="perception", quadrant="q1", effect="read-only", optional=["model"])
def pain_scanner(sources: list[str], window: Window, top_n: int = 10) -> dict[str, Any]:
    """Find what users complain about: negative posts grouped by theme."""
    return _scan(scan_models.scan_pain_points, sources, window, top_n)


@skill(organ="perception", quadrant="q2", effect="read-only", optional=["model"])
def emotion_scanner(sources: list[str], window: Window, top_n: int = 10) -> dict[str, Any]:
    """Measure which emotions the posts carry and where they run strongest."""
    return _scan(scan_models.scan_emotions, sources, window, top_n)


@skill(organ="perception", quadrant="q3", effect="read-only", optional=["model"])
def trend_scanner(
    sources: list[str], window: Window, top_n: int = 10, history: Annotated[int, Field(ge=1)] = 3
) -> dict[str, Any]:
    """Find the keywords that grow in the window against the ``history`` windows of its length before it."""
    baseline = window.before(history)
    loaded = load_window(sources, Window(start=baseline.start, end=window.end))
    current = [item for item in loaded.items if item.published and window.holds(item.published)]
    earlier = [item for item in loaded.items if item.published and baseline.holds(item.published)]
    result = scan_models.scan_trends(current, earlier, top_n=top_n)
    return {**result, **_coverage({**window.as_json(), "baseline": baseline.as_json()}, loaded)}


@skill(organ="perception", quadrant="q4", effect="read-only", optional=["model"])
def scene_scanner(sources: list[str], window: Window, top_n: int = 8) -> dict[str, Any]:
    """Find the situations in which people use the products: when, where, doing what, on which device."""
    return _scan(scan_models.scan_scenes, sources, window, top_n)
