"""Jinja filters the templates share: durations, times (in the zone the operator chose, labelled), money."""

from __future__ import annotations

from datetime import datetime

from flask import Flask
from markupsafe import Markup

from organism.console import zones


def seconds(value: float | None) -> str:
    """``0.042 s``, ``3.2 s``, ``4 min 05 s``; a dash for nothing."""
    if value is None:
        return "—"
    if value < 10:
        return f"{value:.3f} s" if value < 1 else f"{value:.1f} s"
    minutes, rest = divmod(round(value), 60)
    return f"{minutes} min {rest:02d} s" if minutes else f"{rest} s"


def when(value: datetime | str | None) -> str:
    """``<time datetime="2026-12-05T06:05:00+08:00">2026-12-05 06:05:00 CST</time>`` in the chosen zone (the day
    and the clock each in a span), the zone's name on hover; an ISO text is read as that time (shown as given if
    it is none); a dash for nothing."""
    if value is None:
        return "—"
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    except ValueError:
        return str(value)
    local = zones.local(moment)
    day, _, clock = zones.label(local).partition(" ")  # each kept whole where a narrow column wraps
    return Markup('<time datetime="{}" title="{}"><span>{}</span> <span>{}</span></time>').format(
        local.isoformat(timespec="seconds"), zones.chosen().key, day, clock)


def money(value: float) -> str:
    return f"{value:,.4f}"


def install(console: Flask) -> None:
    console.jinja_env.filters.update(seconds=seconds, when=when, money=money)
