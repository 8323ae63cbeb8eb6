"""The sample sources the Daily Sync reads unless configured otherwise, shipped with the package.

``sample-posts.jsonl`` holds community posts in English and Chinese and ``sample-feed.xml`` an RSS
feed of product blogs and forum digests, dated from 2026-11-01 to 2026-12-13 with a few undated
pinned items. Both are written by ``scripts/make_sample_sources.py``; edit that, not the files.
"""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent

SAMPLE_SOURCES: tuple[str, ...] = (str(_HERE / "sample-posts.jsonl"), str(_HERE / "sample-feed.xml"))
"""Absolute paths of the two sample files, usable from any working directory."""
