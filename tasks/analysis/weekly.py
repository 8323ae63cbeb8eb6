"""Week over week: the themes of one week's Daily Sync reports against those of the week before.

A theme is a finding's ``theme`` within its quadrant: a pain point and a trend of the same words are two themes,
as their scores are on different scales. Over a period a theme has the days it was found on and a score, the sum
of its daily scores divided by the period's reports, so that a day without a report counts neither for nor
against it. Against the period before, a theme is *new* or *gone* when only one of the two periods found it,
*rising* or *falling* when its score changed by a factor of :data:`CHANGE` or more, and *persistent* otherwise.
Days without a report are listed as missing, and the summary says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

QUADRANT_NAMES = {"q1": "pain points", "q2": "emotions", "q3": "trends", "q4": "scenes"}
CATEGORIES = ("rising", "falling", "new", "gone", "persistent")
CHANGE = 1.5  # a score this many times higher is rising, this many times lower falling
SHOWN = 5  # themes named per category in the summary
WEEK = 7

Report = Mapping[str, Any]  # a Daily Sync report's body; its "scans" are what is read


def periods(monday: date, weeks: int = 1) -> tuple[list[date], list[date]]:
    """The days of the reviewed period (the ``weeks`` weeks that end on ``monday``) and those of the period of the
    same length before it, oldest first."""
    span = WEEK * weeks
    this = [monday - timedelta(days=span - 1 - i) for i in range(span)]
    return this, [day - timedelta(days=span) for day in this]


def themes(body: Report) -> dict[str, dict[str, float]]:
    """A report's themes by quadrant, each with its score (the highest, when a quadrant names a theme twice)."""
    found: dict[str, dict[str, float]] = {}
    for quadrant, scan in sorted((body.get("scans") or {}).items()):
        scores = found.setdefault(str(quadrant), {})
        for finding in scan.get("findings") or []:
            theme = str(finding.get("theme") or "").strip()
            if theme:
                scores[theme] = max(scores.get(theme, 0.0), float(finding.get("score") or 0.0))
    return found


def trimmed(body: Report) -> dict[str, Any]:
    """The part of a report that :func:`compare` reads, in the report's own shape."""
    return {"scans": {quadrant: {"findings": [{"theme": theme, "score": score} for theme, score in scores.items()]}
                      for quadrant, scores in themes(body).items()}}


@dataclass
class _Period:
    """What a period's reports found: its days with and without a report, and each theme's days and scores."""

    days: list[date]
    reported: list[date] = field(default_factory=list)
    seen: dict[tuple[str, str], list[float]] = field(default_factory=dict)

    @property
    def missing(self) -> list[date]:
        return [day for day in self.days if day not in self.reported]

    def score(self, theme: tuple[str, str]) -> float:
        return sum(self.seen.get(theme, ())) / len(self.reported) if self.reported else 0.0

    def as_json(self) -> dict[str, Any]:
        return {"from": self.days[0].isoformat(), "to": self.days[-1].isoformat(),
                "reports": [day.isoformat() for day in self.reported],
                "missing": [day.isoformat() for day in self.missing]}


def _tally(days: list[date], reports: Mapping[date, Report | None]) -> _Period:
    period = _Period(days)
    for day in days:
        body = reports.get(day)
        if body is None:
            continue
        period.reported.append(day)
        for quadrant, scores in themes(body).items():
            for theme, score in scores.items():
                period.seen.setdefault((quadrant, theme), []).append(score)
    return period


def compare(monday: date, weeks: int, reports: Mapping[date, Report | None]) -> dict[str, Any]:
    """The themes of the ``weeks`` weeks of daily reports that end on ``monday`` against the period before.

    Args:
        reports: report bodies by the date of their Daily Sync; a day absent or None had no report.

    Returns:
        ``{"date", "weeks", "period", "before", "rising", "falling", "new", "gone", "persistent"}``: each period
        ``{"from", "to", "reports", "missing"}`` (ISO dates), each category a list of ``{"theme", "quadrant",
        "days", "days_before", "score", "score_before", "change"}`` (``change`` is the ratio of the scores, None
        unless both are positive). Rising and falling themes come by days gained or lost, then by change; the
        others by days found, then by score.
    """
    this_days, before_days = periods(monday, weeks)
    this, before = _tally(this_days, reports), _tally(before_days, reports)
    found: dict[str, list[dict[str, Any]]] = {category: [] for category in CATEGORIES}
    for key in sorted(this.seen.keys() | before.seen.keys()):
        entry = _entry(key, this, before)
        found[_category(entry)].append(entry)
    # the most days gained (lost) first, then the largest change of score
    found["rising"].sort(key=lambda e: (e["days_before"] - e["days"], -(e["change"] or float("inf"))))
    found["falling"].sort(key=lambda e: (e["days"] - e["days_before"], e["change"] or 0.0))
    found["new"].sort(key=lambda e: (-e["days"], -e["score"]))
    found["gone"].sort(key=lambda e: (-e["days_before"], -e["score_before"]))
    found["persistent"].sort(key=lambda e: (-e["days"], -e["score"]))
    return {"date": monday.isoformat(), "weeks": weeks, "period": this.as_json(), "before": before.as_json(),
            **found}


def _entry(key: tuple[str, str], this: _Period, before: _Period) -> dict[str, Any]:
    quadrant, theme = key
    score, score_before = this.score(key), before.score(key)
    change = round(score / score_before, 2) if score > 0 and score_before > 0 else None
    return {"theme": theme, "quadrant": quadrant, "days": len(this.seen.get(key, ())),
            "days_before": len(before.seen.get(key, ())), "score": round(score, 4),
            "score_before": round(score_before, 4), "change": change}


def _category(entry: dict[str, Any]) -> str:
    if not entry["days_before"]:
        return "new"
    if not entry["days"]:
        return "gone"
    score, was = entry["score"], entry["score_before"]
    if score > was and score >= was * CHANGE:
        return "rising"
    if was > score and was >= score * CHANGE:
        return "falling"
    return "persistent"


def summary(review: Mapping[str, Any]) -> str:
    """The review in a few lines for a product team: each category's strongest themes, then the missing days."""
    this, before, weeks = review["period"], review["before"], review["weeks"]
    earlier = "the week before" if weeks == 1 else f"the {weeks} weeks before"
    lines = [f"Weekly review {review['date']}: daily reports {this['from']} to {this['to']} against {earlier} "
             f"({before['from']} to {before['to']})"]
    if not before["reports"]:
        lines.append(f"no daily report in {earlier}, so every theme found counts as new")
    if not this["reports"]:
        lines.append("no daily report in the reviewed days, so every theme found before counts as gone")
    for category in CATEGORIES[:4]:
        lines.append(f"{category}: {_listed(review[category], category)}")
    persistent = review["persistent"]
    lines.append(f"persistent: {len(persistent)} theme{'s' * (len(persistent) != 1)}"
                 + (f", e.g. {_listed(persistent[:3], 'persistent')}" if persistent else ""))
    for label, period in (("", this), (f"{earlier}: ", before)):
        if period["missing"]:
            total = len(period["missing"]) + len(period["reports"])
            lines.append(f"{label}{len(period['missing'])} of {total} daily reports missing: "
                         f"{', '.join(period['missing'])}")
    return "\n".join(lines)


def _listed(entries: list[dict[str, Any]], category: str) -> str:
    named = [_described(entry, category) for entry in entries[:SHOWN]]
    if len(entries) > SHOWN:
        named.append(f"and {len(entries) - SHOWN} more")
    return "; ".join(named) or "none"


def _described(entry: dict[str, Any], category: str) -> str:
    where = QUADRANT_NAMES.get(entry["quadrant"], entry["quadrant"])
    days, before = _days(entry["days"]), _days(entry["days_before"])
    if category == "new":
        return f"{entry['theme']} ({where}, {days})"
    if category == "gone":
        return f"{entry['theme']} ({where}, was {before})"
    change = f"; score ×{entry['change']:g}" if entry["change"] is not None and category != "persistent" else ""
    return f"{entry['theme']} ({where}, {days}, was {entry['days_before']}{change})"


def _days(count: int) -> str:
    return f"{count} day{'s' * (count != 1)}"
