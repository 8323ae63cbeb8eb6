"""Scans over a time window of the sources: what is loaded, what is left out and counted, what is compared."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from organism.errors import InvalidArguments
from organism.failures.classify import Action, classify
from tasks import perception
from tasks.analysis.sources import SourceError, SourceUnreachable, Window, check_sources, load_items, load_window
from tasks.analysis.text import item_text
from tasks.samples import SAMPLE_SOURCES

SAMPLE = list(SAMPLE_SOURCES)
SHANGHAI = ZoneInfo("Asia/Shanghai")
SCANS = {
    "q1": perception.pain_scanner,
    "q2": perception.emotion_scanner,
    "q3": perception.trend_scanner,
    "q4": perception.scene_scanner,
}


def day(year: int, month: int, dom: int, tz: Any = SHANGHAI) -> Window:
    start = datetime(year, month, dom, tzinfo=tz)
    return Window(start=start, end=start + timedelta(days=1))


def _mentions(items: list[Any], phrase: str) -> int:
    return sum(phrase in item_text(item).lower() for item in items)


# --- the window --------------------------------------------------------------------------------------


def test_a_window_needs_zones_and_an_end_after_its_start() -> None:
    with pytest.raises(ValidationError, match="must be after start"):
        Window(start=datetime(2026, 12, 2, tzinfo=UTC), end=datetime(2026, 12, 1, tzinfo=UTC))
    with pytest.raises(ValidationError, match="timezone"):
        Window.model_validate({"start": "2026-12-01T00:00:00", "end": "2026-12-02T00:00:00Z"})
    window = Window.model_validate({"start": "2026-12-01T00:00:00+08:00", "end": "2026-12-02T00:00:00+08:00"})
    assert window.hours == 24
    assert window.before(3).as_json() == {"start": "2026-11-28T00:00:00+08:00", "end": "2026-12-01T00:00:00+08:00"}


def test_a_skill_given_a_bad_window_names_the_argument_in_one_line() -> None:
    backwards = {"start": "2026-12-02T00:00:00+08:00", "end": "2026-12-01T00:00:00+08:00"}
    with pytest.raises(InvalidArguments) as caught:
        perception.pain_scanner.run(SAMPLE, backwards)
    assert "\n" not in str(caught.value)
    assert str(caught.value).startswith("q1p0.pain_scanner: invalid arguments: window: ")
    with pytest.raises(InvalidArguments, match="history: Input should be greater than or equal to 1"):
        perception.trend_scanner.run(SAMPLE, day(2026, 12, 1).as_json(), history=0)


# --- loading a window ----------------------------------------------------------------------------------


def test_two_windows_give_their_own_items_and_their_own_findings() -> None:
    first, last = day(2026, 11, 5), day(2026, 12, 10)
    early, late = load_window(SAMPLE, first), load_window(SAMPLE, last)
    assert early.items and late.items and not {i.id for i in early.items} & {i.id for i in late.items}
    assert all(first.holds(i.published) for i in early.items if i.published)
    assert all(last.holds(i.published) for i in late.items if i.published)
    everything = load_items(SAMPLE)
    for loaded in (early, late):
        assert len(loaded.items) + loaded.undated + loaded.outside == len(everything)
    pains = [perception.pain_scanner.run(SAMPLE, w.as_json()) for w in (first, last)]
    assert [p["items_scanned"] for p in pains] == [len(early.items), len(late.items)]
    assert [p["window"] for p in pains] == [first.as_json(), last.as_json()]
    themes = [{f["theme"] for f in p["findings"]} for p in pains]
    assert themes[0] and themes[1] and themes[0] != themes[1]
    cited = [{i for f in p["findings"] for i in f["examples"]} for p in pains]
    assert cited[0] <= {i.id for i in early.items} and cited[1] <= {i.id for i in late.items}


def test_undated_items_are_counted_and_never_scanned(tmp_path: Path) -> None:
    rows = [{"id": f"u{n}", "text": "The app keeps crashing, it is broken and useless."} for n in range(4)]
    rows += [{"id": "d1", "text": "Lovely sunny walk in the park today.", "published": "2026-12-01T09:00:00Z"},
             {"id": "d2", "text": "The app crashes, broken again.", "published": "2026-11-20T09:00:00Z"}]
    source = tmp_path / "posts.jsonl"
    source.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    window = day(2026, 12, 1, UTC)
    loaded = load_window([str(source)], window)
    assert [i.id for i in loaded.items] == ["d1"] and (loaded.undated, loaded.outside) == (4, 1)
    pain = perception.pain_scanner.run([str(source)], window.as_json())
    assert (pain["items_scanned"], pain["pain_items"], pain["undated"], pain["outside"]) == (1, 0, 4, 1)
    assert pain["findings"] == []

    # The sample's pinned posts and feed entries have no date: counted by every scan, cited by none.
    undated = {i.id for i in load_items(SAMPLE) if i.published is None}
    assert len(undated) == 8
    for quadrant, skill in SCANS.items():
        scan = skill.run(SAMPLE, day(2026, 12, 2).as_json())
        assert scan["quadrant"] == quadrant and scan["undated"] == 8
        assert scan["findings"] or quadrant == "q3"  # one day seldom shows a significant rise
        assert not undated & {i for f in scan["findings"] for i in f["examples"]}


def test_the_sample_loads_from_any_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert all(Path(source).is_absolute() for source in SAMPLE_SOURCES)
    check_sources(SAMPLE)
    loaded = load_window(SAMPLE, day(2026, 12, 13))
    assert len(loaded.items) >= 15
    assert perception.scene_scanner.run(SAMPLE, day(2026, 12, 13).as_json())["findings"]


# --- checking sources before a run -----------------------------------------------------------------------


def test_check_sources_names_the_first_missing_or_unreadable_source_in_one_line(tmp_path: Path) -> None:
    check_sources(SAMPLE)  # the shipped sample passes
    missing = str(tmp_path / "gone.jsonl")
    with pytest.raises(SourceError) as caught:
        check_sources([*SAMPLE, missing, str(tmp_path)])
    assert str(caught.value) == f"{missing}: file not found ({missing})"
    with pytest.raises(SourceError, match=r": is a directory, not a file"):
        check_sources([SAMPLE[0], str(tmp_path)])
    with pytest.raises(SourceError, match="no sources given"):
        check_sources([])
    # Checking does not parse: a file that is not a feed passes the check and fails the load, by name.
    junk = tmp_path / "junk.xml"
    junk.write_text("not a feed at all <", encoding="utf-8")
    check_sources([str(junk)])
    with pytest.raises(SourceError, match=r"junk\.xml: not a readable RSS/Atom feed"):
        load_window([str(junk)], day(2026, 12, 1))


def test_a_missing_source_is_permanent_and_an_unreachable_url_is_retried() -> None:
    assert classify(SourceError("posts.jsonl: file not found"))[0] is Action.DEAD
    assert classify(SourceUnreachable("http://x/feed.xml: cannot fetch (HTTP 503)"))[0] is Action.RETRY


@pytest.fixture
def feed_server(tmp_path: Path) -> Iterator[str]:
    """A real HTTP server for the sample feed; /busy.xml answers 503."""
    (tmp_path / "feed.xml").write_bytes(Path(SAMPLE[1]).read_bytes())

    class Handler(SimpleHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/busy.xml":
                self.send_error(503)
            else:
                super().do_GET()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(tmp_path)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def test_url_sources_load_and_their_failures_are_classified(feed_server: str) -> None:
    check_sources([f"{feed_server}/feed.xml", f"{feed_server}/absent.xml"])  # URLs are not fetched to check
    by_url = load_items([f"{feed_server}/feed.xml"])
    by_path = load_items([SAMPLE[1]])
    assert [(i.id, i.text, i.published) for i in by_url] == [(i.id, i.text, i.published) for i in by_path]
    with pytest.raises(SourceError, match=r"absent\.xml: cannot fetch \(HTTP 404\)"):
        load_items([f"{feed_server}/absent.xml"])
    with pytest.raises(SourceUnreachable, match=r"busy\.xml: cannot fetch \(HTTP 503\)"):
        load_items([f"{feed_server}/busy.xml"])


# --- every day of the sample has something for every scan --------------------------------------------


def test_every_day_of_the_sample_gives_every_scan_something() -> None:
    # Days in the Daily Sync's default time zone, 2026-11-02 .. 2026-12-13. The first, 2026-11-01, is
    # short: English posts start at 00:00 UTC, 08:00 in Shanghai.
    first = datetime(2026, 11, 2, tzinfo=SHANGHAI)
    for offset in range(42):
        window = Window(start=first + timedelta(days=offset), end=first + timedelta(days=offset + 1))
        for quadrant in ("q1", "q2", "q4"):
            scan = SCANS[quadrant].run(SAMPLE, window.as_json())
            assert 15 <= scan["items_scanned"] <= 55, (window.start.date(), quadrant, scan["items_scanned"])
            # A quiet day's complaints may all differ: q1 then says why it names none.
            assert scan["findings"] or (quadrant == "q1" and scan["note"]), (window.start.date(), quadrant)
        # One day of some 35 posts seldom shows a rise that survives the correction for the themes tested:
        # q3 then says so, and names its test.
        trends = perception.trend_scanner.run(SAMPLE, window.as_json())
        assert trends["findings"] or "rose significantly" in trends["note"], window.start.date()


# --- the trend scan against the windows before ---------------------------------------------------------


def test_a_late_week_finds_themes_that_really_rise_against_the_weeks_before() -> None:
    # The sample's delays and cold snap build up over its last week: a week's window sees them.
    end = datetime(2026, 12, 14, tzinfo=SHANGHAI)
    window = Window(start=end - timedelta(days=7), end=end)
    trends = perception.trend_scanner.run(SAMPLE, window.as_json(), history=2)
    baseline = window.before(2)
    assert trends["window"] == {**window.as_json(), "baseline": baseline.as_json()}
    current, before = load_window(SAMPLE, window).items, load_window(SAMPLE, baseline).items
    assert trends["items_scanned"] == len(current) and trends["baseline"] == len(before)
    assert trends["note"] is None and "Holm" in trends["test"]
    delay = next(f for f in trends["findings"] if f["theme"] == "delay")
    assert delay["direction"] == "rising" and delay["adjusted_p"] < 0.05
    assert delay["current"] == _mentions(current, "delay") >= 10
    assert delay["current"] / len(current) >= 3 * delay["baseline"] / len(before)
    assert set(delay["examples"]) <= {i.id for i in current}
    for found in trends["findings"]:  # every theme it reports takes a larger share of posts than before
        assert found["direction"] in ("rising", "new") and found["adjusted_p"] < 0.05
        assert found["current"] / len(current) > found["baseline"] / len(before)


def test_a_window_with_nothing_before_it_has_no_baseline_and_no_rising_theme() -> None:
    window = Window(start=datetime(2026, 11, 1, tzinfo=UTC), end=datetime(2026, 11, 8, tzinfo=UTC))
    trends = perception.trend_scanner.run(SAMPLE, window.as_json(), history=2)
    assert trends["items_scanned"] > 100 and trends["baseline"] == 0 and trends["findings"] == []
    assert "no items before the window" in trends["note"]
    assert trends["window"]["baseline"] == {"start": "2026-10-18T00:00:00+00:00", "end": "2026-11-01T00:00:00+00:00"}


def test_history_sets_how_far_back_the_baseline_reaches() -> None:
    window = day(2026, 12, 4)
    short, long = (perception.trend_scanner.run(SAMPLE, window.as_json(), history=h) for h in (1, 7))
    assert short["items_scanned"] == long["items_scanned"]
    assert short["baseline"] == len(load_window(SAMPLE, window.before(1)).items)
    assert long["baseline"] == len(load_window(SAMPLE, window.before(7)).items) > 3 * short["baseline"]
    assert long["outside"] == short["outside"] - (long["baseline"] - short["baseline"])
