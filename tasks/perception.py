"""Perception (P0): the four quadrant scans over the configured sources."""

from __future__ import annotations

from typing import Any

from celery import signals

from organism.skill import skill
from tasks.analysis.emotions import scan_emotions
from tasks.analysis.pain_points import scan_pain_points
from tasks.analysis.scenes import scan_scenes
from tasks.analysis.sources import load_items
from tasks.analysis.text import warm_up
from tasks.analysis.trends import scan_trends


@signals.worker_init.connect
def _warm_up(sender: Any = None, **_: Any) -> None:
    """Load the language models in a perception worker's parent, so every pool child starts with them."""
    if sender is not None and "perception" in sender.app.amqp.queues.consume_from:
        warm_up()


@skill(organ="perception", quadrant="q1", effect="read-only")
def pain_scanner(sources: list[str], top_n: int = 10) -> dict[str, Any]:
    """Find what users complain about: negative posts grouped by theme."""
    return scan_pain_points(load_items(sources), top_n=top_n)


@skill(organ="perception", quadrant="q2", effect="read-only")
def emotion_scanner(sources: list[str], top_n: int = 10) -> dict[str, Any]:
    """Measure which emotions the posts carry and where they run strongest."""
    return scan_emotions(load_items(sources), top_n=top_n)


@skill(organ="perception", quadrant="q3", effect="read-only")
def trend_scanner(sources: list[str], top_n: int = 10) -> dict[str, Any]:
    """Find the keywords that grow in the recent half of the period."""
    return scan_trends(load_items(sources), top_n=top_n)


@skill(organ="perception", quadrant="q4", effect="read-only")
def scene_scanner(sources: list[str], top_n: int = 8) -> dict[str, Any]:
    """Cluster the posts into the scenes in which people use the products."""
    return scan_scenes(load_items(sources), top_n=top_n)
