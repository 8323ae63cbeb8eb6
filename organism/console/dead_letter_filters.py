"""The dead-letter list's filters and page, as its address gives them (``?run=…&skill=…&status=…&since=…&until=…
&page=…``): each value checked, a bad one refused with a 400 naming the parameter and what it takes.

A time without a zone is in the zone the operator chose; a date alone is that day's midnight for ``since`` and the
next midnight for ``until``, so ``until=2026-11-23`` takes in the whole of that day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from math import ceil
from typing import Any
from zoneinfo import ZoneInfo

from flask import abort
from werkzeug.datastructures import MultiDict

from organism.store.models import DeadLetterStatus

PER_PAGE = 25
MAX_PAGE = 10**6  # keeps the offset a number every store takes
ANY = "any"  # the status filter's value for every status
FIELDS = ("run", "skill", "status", "since", "until")
STATUSES = [*(status.value for status in DeadLetterStatus), ANY]


@dataclass(frozen=True)
class Filters:
    """What the list shows: the store's filters, the page, and every field as given (for the form and links)."""

    query: dict[str, Any]
    page: int
    given: dict[str, str]

    def link(self, page: int) -> dict[str, Any]:
        """The address arguments of page ``page`` of this list."""
        return {name: value for name, value in self.given.items() if value} | {"page": page}


@dataclass(frozen=True)
class Paging:
    """Which of ``total`` letters page ``number`` holds, ``PER_PAGE`` to a page."""

    number: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, ceil(self.total / PER_PAGE))

    @property
    def offset(self) -> int:
        return (self.number - 1) * PER_PAGE

    @property
    def first(self) -> int:
        return self.offset + 1

    @property
    def last(self) -> int:
        return min(self.total, self.offset + PER_PAGE)


def read(args: MultiDict[str, str], zone: ZoneInfo) -> Filters:
    """The filters in ``args``; aborts with a 400 naming the first bad one."""
    given = {name: args.get(name, "").strip() for name in FIELDS}
    status = given["status"] or DeadLetterStatus.DEAD.value
    if status not in STATUSES:
        abort(400, f"status: {status!r} is not one of {', '.join(STATUSES)}")
    page = args.get("page", "").strip() or "1"
    if not (page.isascii() and page.isdigit() and 1 <= int(page) <= MAX_PAGE):
        abort(400, f"page: {page!r} is not a page number (1, 2, 3, … up to {MAX_PAGE})")
    query = {"run": given["run"] or None, "skill": given["skill"] or None,
             "status": None if status == ANY else DeadLetterStatus(status),
             "since": _moment("since", given["since"], zone, end=False),
             "until": _moment("until", given["until"], zone, end=True)}
    return Filters(query, int(page), given | {"status": status})


def _moment(name: str, text: str, zone: ZoneInfo, end: bool) -> datetime | None:
    """``text`` as a time in ``zone`` unless it names its own offset; a date is its midnight (the next, if ``end``)."""
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        pass
    else:
        return datetime.combine(day + timedelta(days=int(end)), time(), tzinfo=zone)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        abort(400, f"{name}: {text!r} is not a date or time like 2026-11-23 or 2026-11-23T06:00")
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)
