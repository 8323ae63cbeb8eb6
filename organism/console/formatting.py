"""Jinja filters the templates share: durations, times, money."""

from __future__ import annotations

from datetime import datetime

from flask import Flask


def seconds(value: float | None) -> str:
    """``0.042 s``, ``3.2 s``, ``4 min 05 s``; a dash for nothing."""
    if value is None:
        return "—"
    if value < 10:
        return f"{value:.3f} s" if value < 1 else f"{value:.1f} s"
    minutes, rest = divmod(round(value), 60)
    return f"{minutes} min {rest:02d} s" if minutes else f"{rest} s"


def when(value: datetime | None) -> str:
    return "—" if value is None else f"{value:%Y-%m-%d %H:%M:%S}"


def money(value: float) -> str:
    return f"{value:,.4f}"


def install(console: Flask) -> None:
    console.jinja_env.filters.update(seconds=seconds, when=when, money=money)
