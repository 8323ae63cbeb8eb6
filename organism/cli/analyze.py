"""``organism analyze``: the perception scans run here, on the user's own files, with no broker and no store.

A user tries a scan on their data before scheduling it: the local (deterministic) scans of :mod:`tasks.analysis`
read the items published in a window, as a run's scans do (:class:`~tasks.analysis.sources.Window`: start
included, end excluded; undated items are never in one). Without ``--since``/``--until`` the window is the span
of the files' dated items, and q3's the last day of it, compared with the ``--history`` days before.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta, tzinfo
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.table import Table

from organism.cli.context import settings_or_exit

if TYPE_CHECKING:
    from tasks.analysis.sources import Item, Window

SCANS = ("q1", "q2", "q3", "q4")
NAMES = {"q1": "pain points", "q2": "emotions", "q3": "trends", "q4": "scenes"}
console = Console()


class _OneLine(click.Command):
    """A command whose wrong arguments are one line (the error alone), without the usage text."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as error:
            raise click.UsageError(error.format_message()) from None


class Moment(click.ParamType):
    """An ISO 8601 date or date-time; the zone and the day's bounds are applied by :func:`_instant`."""

    name = "TIME"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> date | datetime:
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            self.fail(f"{value!r} is not an ISO 8601 date or time, e.g. 2026-11-23 or 2026-11-23T06:00+08:00")


@dataclass(frozen=True)
class Scanned:
    """One scan's result, and the window it read with what it left out."""

    scan: str
    window: Window | None  # None: its start is not before its end
    baseline: Window | None  # q3's: the windows before it
    items: int
    undated: int
    outside: int  # dated items in neither window
    dated: tuple[datetime, datetime] | None  # when the first and the last dated item were published
    result: dict[str, Any] | None  # None: nothing in the window to scan


@click.command(cls=_OneLine)
@click.argument("sources", nargs=-1, required=True, metavar="SOURCE...")
@click.option(
    "--scan",
    "scans",
    type=click.Choice(SCANS),
    multiple=True,
    help="A scan to run (repeat for several; default: all four).",
)
@click.option("--since", type=Moment(), help="Start of the window (a date is its midnight; default: the first item).")
@click.option(
    "--until",
    type=Moment(),
    help="End of the window, excluded (a date includes that day; default: after the last item).",
)
@click.option(
    "--history",
    type=click.IntRange(min=1),
    help="Windows of the same length before it that q3 compares with (default: the trend scanner's).",
)
@click.option(
    "--format",
    "output",
    type=click.Choice(["table", "jsonl"]),
    default="table",
    show_default=True,
    help="jsonl: one JSON object a line on stdout, notes on stderr.",
)
def analyze(
    sources: tuple[str, ...],
    scans: tuple[str, ...],
    since: date | datetime | None,
    until: date | datetime | None,
    history: int | None,
    output: str,
) -> None:
    """Run the perception scans on your own files (JSON Lines or RSS/Atom), here, without a broker or store.

    q2 gives each item's polarity, score and emotions; q1, q3 and q4 give themes with the ids of the items
    that show them. A time without a zone is in ORGANISM_TIMEZONE.

    \b
    Examples:
      organism analyze posts.jsonl --scan q2 --format jsonl
      organism analyze posts.jsonl feed.xml --since 2026-11-20 --until 2026-11-22
    """
    zone = settings_or_exit().zone
    start, end = _instant(since, zone), _instant(until, zone, end_of_day=True)
    if start and end and start >= end:
        raise click.ClickException(f"--since {since} is not before --until {until}")
    items = _load(list(sources))
    scanned = [_scan(scan, items, start, end, history) for scan in dict.fromkeys(scans or SCANS)]
    for each in scanned:
        _show(each, zone, output)


def _instant(value: date | datetime | None, zone: tzinfo, end_of_day: bool = False) -> datetime | None:
    """``value`` as a zone-aware instant: a date is its midnight (the next one for ``--until``, so the day is in)."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        return datetime.combine(value + timedelta(days=end_of_day), time(), tzinfo=zone)
    return value if value.tzinfo else value.replace(tzinfo=zone)


def _load(sources: list[str]) -> list[Item]:
    """Every item of the sources; a missing, unreadable or malformed source, or an unknown language, is one line."""
    from tasks.analysis.sources import SourceError, SourceUnreachable, load_items

    try:
        return load_items(sources)
    except (SourceError, SourceUnreachable) as error:
        raise click.ClickException(str(error)) from None


def _scan(scan: str, items: list[Item], since: datetime | None, until: datetime | None, history: int | None) -> Scanned:
    """Run ``scan`` over the items published in its window, as the perception skills do."""
    from tasks.analysis.emotions import scan_emotions
    from tasks.analysis.pain_points import scan_pain_points
    from tasks.analysis.polarity import PolarityUnavailable
    from tasks.analysis.scenes import scan_scenes
    from tasks.analysis.sources import Window
    from tasks.analysis.trends import scan_trends

    times = sorted(item.published for item in items if item.published)
    dated = (times[0], times[-1]) if times else None
    end = until or (times[-1].replace(microsecond=0) + timedelta(seconds=1) if times else None)
    start = since or (end - timedelta(days=1) if scan == "q3" and end else times[0] if times else None)
    window = Window(start=start, end=end) if start and end and start < end else None
    baseline = window.before(history or _trend_history()) if window and scan == "q3" else None
    inside = _published(items, window)
    before = _published(items, baseline)
    found = Scanned(scan, window, baseline, len(inside), len(items) - len(times),
                    len(times) - len(inside) - len(before), dated, None)  # fmt: skip
    if not inside:
        return found
    try:
        if scan == "q3":
            return replace(found, result=scan_trends(inside, before))
        local = {"q1": scan_pain_points, "q2": scan_emotions, "q4": scan_scenes}[scan]
        return replace(found, result=local(inside))
    except PolarityUnavailable as error:
        raise click.ClickException(str(error)) from None


def _published(items: list[Item], window: Window | None) -> list[Item]:
    """The items published in ``window`` (none if there is no window), as :func:`~tasks.analysis.sources.load_window`
    keeps them."""
    return [item for item in items if window and item.published and window.holds(item.published)]


def _trend_history() -> int:
    """How many windows before its own the Daily Sync's trend scan compares with, unless told otherwise."""
    from tasks.perception import trend_scanner

    default: int = inspect.signature(trend_scanner).parameters["history"].default
    return default


def _show(scanned: Scanned, zone: tzinfo, output: str) -> None:
    """The scan's rows, as JSON Lines on stdout (its coverage on stderr) or as a table under its coverage."""
    note = f"{scanned.scan} {NAMES[scanned.scan]}: {_coverage(scanned, zone)}"
    if output == "jsonl":
        click.echo(note, err=True)
        for row in _rows(scanned):
            click.echo(json.dumps({"scan": scanned.scan, **row}, ensure_ascii=False))
        return
    rows = list(_rows(scanned))
    if not rows:
        click.echo(note)
        return
    table = Table(*rows[0], title=note, title_justify="left")
    for row in rows:
        table.add_row(*(_cell(value) for value in row.values()))
    console.print(table)


def _coverage(scanned: Scanned, zone: tzinfo) -> str:
    """What the scan read and left out, and why it found nothing if it did."""
    left_out = f"left out {scanned.undated} undated and {scanned.outside} outside"
    if scanned.dated is None:
        return (
            "no item in the sources has a publication time ('published' or 'date'), and a scan reads only the "
            f"items published in its window; {left_out}"
        )
    if scanned.result is None:
        first, last = (_at(moment, zone) for moment in scanned.dated)
        window = f" from {_span(scanned.window, zone)}" if scanned.window else ""
        return f"no items published in the window{window} (the items run from {first} to {last}); {left_out}"
    read = f"{scanned.items} items published from {_span(scanned.window, zone)}"
    if scanned.baseline:
        read += f" against {scanned.result['baseline']} from {_span(scanned.baseline, zone)}"
    if scanned.scan == "q2":
        read += " (" + ", ".join(f"{label} {share:.0%}" for label, share in scanned.result["polarity"].items()) + ")"
    note = scanned.result.get("note")
    return f"{read}; {left_out}" + (f"; {note}" if note else "")


def _span(window: Window | None, zone: tzinfo) -> str:
    return f"{_at(window.start, zone)} to {_at(window.end, zone)}" if window else ""


def _at(moment: datetime, zone: tzinfo) -> str:
    return moment.astimezone(zone).isoformat()


def _rows(scanned: Scanned) -> Iterator[dict[str, Any]]:
    """q2's items (id, polarity, score, emotions), or the themes of q1, q3 (rising, new, then fading) and q4."""
    result = scanned.result
    if result is None:
        return
    if scanned.scan == "q2":
        yield from ({key: item[key] for key in ("id", "polarity", "score", "emotions")} for item in result["items"])
        return
    for found in [*result["findings"], *result.get("fading", [])]:
        yield {
            "theme": found["theme"],
            **({"direction": found["direction"]} if scanned.scan == "q3" else {}),
            "score": found["score"],
            "mentions": found["mentions"],
            "evidence": found["examples"],
            "keywords": found["keywords"],
        }


def _cell(value: Any) -> str:
    return ", ".join(map(str, value)) if isinstance(value, list) else str(value)
