"""``organism analyze`` on small files of English and Chinese posts: what each scan prints, which items its
window holds, and one line for every kind of bad input."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from organism.cli.main import main
from tasks.analysis.emotions import EMOTIONS

ENV = {"ORGANISM_TIMEZONE": "Asia/Shanghai"}  # a time without a zone is read in this one
DAYS = ("2026-11-20", "2026-11-21", "2026-11-22")
COMPLAINTS = {
    "en": ["The battery drains overnight, so annoying.", "Battery drains overnight again, terrible.",
           "My battery drains overnight even when idle. Awful.", "Why does the battery drain overnight? Disappointed.",
           "Battery drained overnight for the third time, very frustrating.", "The battery drains overnight, useless.",
           "Battery drains overnight, I have to charge it every morning.", "The battery drains overnight, bad."],
    "zh": ["服务费太贵了，每单都加钱，很生气。", "新加的服务费太贵了，不会再点了。", "服务费太贵，体验很差。",
           "这个服务费太贵了，真的失望。", "又收服务费，太贵了，差评。", "服务费太贵了，太坑了。",
           "服务费太贵了，不值得。", "服务费太贵，很不满意。"],
}  # fmt: skip
PRAISE = {
    "en": ["Love the camera, clear night vision.", "Setup took two minutes, great app.", "The app is easy and fast.",
           "Great picture quality during the day.", "Works fine with my phone, happy so far.", "Nice solid build.",
           "The speaker is loud and clear.", "Alerts arrive quickly, very useful.", "Mounting it was simple.",
           "Customer support answered within an hour, excellent.", "The zoom is sharp.", "Sharing clips is easy.",
           "Really happy with this doorbell, it looks great.", "Excellent value, I would buy it again.",
           "The night mode is wonderful.", "Great app, the timeline is easy to browse.", "Love how quiet it is.",
           "The setup guide was clear and helpful."],
    "zh": ["送餐很快，饭菜很热，满意。", "骑手态度很好，准时送到。", "包装干净，味道不错。", "价格合理，推荐大家。",
           "点了三次都很准时，好评。", "菜品新鲜，分量足。", "客服回复很及时，很贴心。", "界面清楚，下单方便。",
           "红包很实用，划算。", "餐厅选择多，很喜欢。", "配送员很有礼貌。", "优惠活动不错，值得。",
           "味道很好，下次还点。", "送得很快，好吃。", "服务很周到，满意。", "量很足，好评。", "很方便，推荐。",
           "口味正宗，喜欢。"],
}  # fmt: skip
SCENES = {
    "en": ["I mostly use it when working from home.", "Handy when working from home all day.",
           "Working from home, I check it between calls."],
    "zh": ["在家办公的时候一直开着。", "在家办公时用它很方便。", "最近在家办公，经常用。"],
}  # fmt: skip


def _posts() -> list[dict[str, Any]]:
    """The posts, by kind and language, spread over three days (Shanghai time)."""
    posts = []
    for kind, texts in (("pain", COMPLAINTS), ("ok", PRAISE), ("scene", SCENES)):
        for lang, group in texts.items():
            for n, text in enumerate(group):
                when = f"{DAYS[n % 3]}T{8 + n // 3:02d}:{n:02d}:00+08:00"
                posts.append({"id": f"{lang}-{kind}-{n}", "text": text, "published": when})
    return posts


POSTS = _posts()


def _write(path: Path, records: list[Any]) -> str:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return str(path)


def _ids(prefix: str) -> set[str]:
    return {post["id"] for post in POSTS if post["id"].startswith(prefix)}


def _analyze(*args: str) -> Result:
    return CliRunner().invoke(main, ["analyze", *args], env=ENV)


def _lines(result: Result) -> list[dict[str, Any]]:
    assert result.exit_code == 0, result.output
    assert result.exception is None, result.exception
    return [json.loads(line) for line in result.stdout.splitlines()]


@pytest.fixture
def posts(tmp_path: Path) -> str:
    return _write(tmp_path / "posts.jsonl", POSTS)


def test_q2_prints_one_line_per_item_with_its_polarity_and_emotions(posts: str) -> None:
    lines = _lines(_analyze(posts, "--scan", "q2", "--format", "jsonl"))

    assert sorted(line["id"] for line in lines) == sorted(post["id"] for post in POSTS)
    for line in lines:
        assert set(line) == {"scan", "id", "polarity", "score", "emotions"}, line
        assert line["scan"] == "q2" and line["polarity"] in ("positive", "negative", "neutral")
        assert -1 <= line["score"] <= 1 and set(line["emotions"]) <= set(EMOTIONS)


def test_q1_and_q4_print_their_themes_with_the_ids_of_the_posts_that_show_them(posts: str) -> None:
    lines = _lines(_analyze(posts, "--scan", "q1", "--scan", "q4", "--format", "jsonl"))
    themes = {scan: [line for line in lines if line["scan"] == scan] for scan in ("q1", "q4")}

    for lang in ("en", "zh"):  # a theme of each language's complaints, citing only those complaints
        cited = [set(t["evidence"]) for t in themes["q1"] if set(t["evidence"]) <= _ids(f"{lang}-pain-")]
        assert any(len(evidence) >= 3 for evidence in cited), themes["q1"]
        cited = [set(t["evidence"]) for t in themes["q4"] if set(t["evidence"]) <= _ids(f"{lang}-scene-")]
        assert any(len(evidence) >= 2 for evidence in cited), themes["q4"]
    for theme in [*themes["q1"], *themes["q4"]]:
        assert theme["evidence"] and theme["mentions"] >= len(theme["evidence"]) and theme["keywords"], theme


def test_since_and_until_select_the_window_and_its_coverage_is_told(posts: str) -> None:
    one_day = _analyze(posts, "--scan", "q2", "--since", DAYS[1], "--until", DAYS[1], "--format", "jsonl")
    on_the_21st = {post["id"] for post in POSTS if post["published"].startswith(DAYS[1])}
    assert {line["id"] for line in _lines(one_day)} == on_the_21st
    assert f"{len(on_the_21st)} items published from 2026-11-21T00:00:00+08:00 to 2026-11-22T00:00:00+08:00" in (
        one_day.stderr
    )
    assert f"left out 0 undated and {len(POSTS) - len(on_the_21st)} outside" in one_day.stderr
    shares = [int(share) for share in re.findall(r"(?:positive|negative|neutral) (\d+)%", one_day.stderr)]
    assert len(shares) == 3 and 99 <= sum(shares) <= 101, one_day.stderr

    # a time with its zone, and one without (in ORGANISM_TIMEZONE); the end is excluded
    hours = _analyze(posts, "--scan", "q2", "--since", "2026-11-21T01:00:00Z", "--until", "2026-11-21T11:00",
                     "--format", "jsonl")  # fmt: skip
    assert {line["id"] for line in _lines(hours)} == {
        post["id"] for post in POSTS if "2026-11-21T09" <= post["published"] < "2026-11-21T11"
    }


def test_q3_compares_the_last_day_with_the_days_before(tmp_path: Path) -> None:
    before = [{"id": f"old-{n}", "text": text, "published": f"2026-11-{19 + n % 3}T{8 + n % 12:02d}:00:00+08:00"}
              for n, text in enumerate(PRAISE["en"] * 2)]  # fmt: skip
    rise = [{"id": f"fee-{n}", "text": f"A new service fee on every order, number {n} this week.",
             "published": f"2026-11-22T{8 + n:02d}:00:00+08:00"} for n in range(6)]  # fmt: skip
    source = _write(tmp_path / "trend.jsonl", before + rise)

    result = _analyze(source, "--scan", "q3", "--format", "jsonl")

    themes = _lines(result)
    assert any("fee" in t["theme"] and t["direction"] in ("new", "rising") and set(t["evidence"]) <= {
        post["id"] for post in rise} for t in themes), themes  # fmt: skip
    assert "to 2026-11-22T13:00:01+08:00 against" in result.stderr  # after the last post; the days before it


def test_the_table_shows_each_scan_under_what_it_read(posts: str) -> None:
    result = _analyze(posts)

    assert result.exit_code == 0 and result.exception is None, result.output
    for title in ("q1 pain points:", "q2 emotions:", "q3 trends:", "q4 scenes:"):
        assert title in result.stdout, result.stdout
    assert "en-pain-0" in result.stdout


def test_an_empty_window_is_said_and_is_no_error(posts: str, tmp_path: Path) -> None:
    later = _analyze(posts, "--scan", "q1", "--since", "2027-01-01", "--format", "jsonl")
    assert _lines(later) == []
    assert "no items published in the window" in later.stderr

    undated = _write(tmp_path / "undated.jsonl", [{"id": "u1", "text": "No date on this one."}])
    result = _analyze(undated, "--scan", "q4", "--format", "jsonl")
    assert _lines(result) == [] and "no item in the sources has a publication time" in result.stderr
    assert "left out 1 undated" in result.stderr


BAD_FILES = {
    "malformed.jsonl": '{"id": "a", "text": "fine", "published": "2026-11-20"}\n{"id": "b", "text": \n',
    "textless.jsonl": '{"id": "a", "text": "fine"}\n{"id": "b", "title": "no body"}\n',
    "baddate.jsonl": '{"id": "a", "text": "fine", "published": "yesterday"}\n',
    "french.jsonl": '{"id": "a", "text": "fine"}\n{"id": "b", "text": "Bon", "lang": "fr"}\n',
    "good.jsonl": '{"id": "a", "text": "fine", "published": "2026-11-20"}\n',
}
BAD_INPUT = {  # the arguments (files in BAD_FILES, run where they are), and what the one line must name
    "missing file": (["absent.jsonl"], "absent.jsonl: file not found"),
    "directory": (["folder"], "folder: is a directory"),
    "malformed line": (["malformed.jsonl"], "malformed.jsonl line 2: not valid JSON"),
    "record without text": (["textless.jsonl"], "textless.jsonl line 2: no text"),
    "bad published": (["baddate.jsonl"], "baddate.jsonl line 1: 'published' is not an ISO 8601 date"),
    "unknown language": (["french.jsonl"], "french.jsonl line 2: 'lang' 'fr' is not a language the scans read"),
    "unknown scan": (["good.jsonl", "--scan", "q5"], "'--scan': 'q5' is not one of"),
    "bad since": (["good.jsonl", "--since", "last week"], "'--since': 'last week' is not an ISO 8601 date"),
    "bad until": (["good.jsonl", "--until", "2026-13-01"], "'--until': '2026-13-01'"),
    "since after until": (["good.jsonl", "--since", "2026-11-22", "--until", "2026-11-21"],
                          "--since 2026-11-22 is not before --until 2026-11-21"),
    "bad history": (["good.jsonl", "--history", "0"], "'--history': 0 is not in the range"),
    "bad format": (["good.jsonl", "--format", "csv"], "'--format': 'csv' is not one of"),
    "no source": ([], "Missing argument 'SOURCE...'"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_input_is_one_line_naming_it(case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, content in BAD_FILES.items():
        (tmp_path / name).write_text(content, encoding="utf-8")
    (tmp_path / "folder").mkdir()
    monkeypatch.chdir(tmp_path)
    args, named = BAD_INPUT[case]

    result = _analyze(*args)

    assert result.exit_code != 0 and isinstance(result.exception, SystemExit), result.exception
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1 and named in result.stderr, result.stderr
