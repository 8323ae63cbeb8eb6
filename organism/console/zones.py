"""The time zone the console shows times in: the operator's pick, kept in a cookie, or else the configured zone
(``ORGANISM_TIMEZONE``).

The header's picker sends ``GET /zone?zone=Europe/Berlin&back=/runs``; an unknown zone is refused with a 400 that
names it. A cookie naming no zone (an old or edited one) is ignored, so it can never lock a page.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

from flask import Blueprint, Flask, abort, redirect, request, url_for
from werkzeug.wrappers import Response

from organism.console.context import organism
from organism.console.security import safe_back

zones = Blueprint("zones", __name__)
COOKIE = "organism_zone"
YEAR_S = 365 * 24 * 3600


def _zone(name: str) -> ZoneInfo | None:
    return ZoneInfo(name) if name in names() else None


@cache
def names() -> list[str]:
    """Every IANA zone this machine knows, sorted."""
    return sorted(available_timezones())


def chosen() -> ZoneInfo:
    """The zone of this request: the operator's pick, or the configured one."""
    return _zone(request.cookies.get(COOKIE, "")) or organism().settings.zone


def local(moment: datetime) -> datetime:
    """``moment`` in the chosen zone; a naive one is UTC, as SQLite gives back what the store wrote."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(chosen())


def label(moment: datetime) -> str:
    """``moment`` with its zone's abbreviation, or its offset where the zone has none (``+04`` is no name):
    ``2026-12-05 06:05:00 CST``, ``2026-12-05 02:05:00 +04:00``."""
    abbreviation = moment.tzname() or ""
    if not abbreviation or abbreviation[0] in "+-":
        offset = moment.isoformat()[-6:]
        abbreviation = "UTC" if offset == "+00:00" else offset
    return f"{moment:%Y-%m-%d %H:%M:%S} {abbreviation}"


@zones.get("/zone")
def choose() -> Response:
    name = request.args.get("zone", "").strip()
    if _zone(name) is None:
        abort(400, f"zone: {name!r} is not a time zone; give an IANA name such as "
                   f"{organism().settings.timezone} or UTC")
    answer = redirect(safe_back(request.args.get("back"), url_for("runs.index")))
    answer.set_cookie(COOKIE, name, max_age=YEAR_S, httponly=True, samesite="Lax")
    return answer


def install(console: Flask) -> None:
    """Register the picker and give templates the chosen zone and the zones to pick from."""
    console.register_blueprint(zones)
    console.jinja_env.globals.update(chosen_zone=lambda: chosen().key, zone_names=names)
