"""The q3 trend scan on small made-up fixtures: a rise is reported only when a test says it is not chance."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tasks.analysis.sources import Item
from tasks.analysis.trends import ALPHA, scan_themes, scan_trends

START = datetime(2026, 12, 1, tzinfo=UTC)
DAYS = 4  # the last day is the window, the three before it the baseline
PER_DAY = 144
# A post is one person, one doing and one place or time: 36 words, each in a twelfth of the posts, few
# enough that chance alone makes some of them look 1.5 times as common now when the dates are shuffled.
PARTS = {
    lang: [part.split("|") for part in parts]
    for lang, parts in {
        "en": [
            "My sister|The neighbour|Our coach|A tourist|The baker|My cousin|The teacher|A student|The mayor|"
            "Our landlord|The pilot|A painter",
            "walked the dog|bought fresh bread|painted the fence|played chess|read a novel|fixed a bicycle|"
            "watched whales|planted tomatoes|cooked soup|sang loudly|visited the museum|wrote a letter",
            "near the harbour.|in the garden.|after lunch.|at the library.|on the balcony.|by the river.|"
            "at the market.|before sunrise.|in the village.|at the stadium.|during the storm.|on the ferry.",
        ],
        "zh": [
            "妹妹|邻居|教练|游客|面包师|表哥|老师|学生|市长|房东|飞行员|画家",
            "在港口附近|在花园里|午饭过后|在图书馆|在阳台上|在河边|在集市上|日出之前|在村子里|在体育场|暴风雨中|在渡轮上",
            "遛狗。|买了面包。|粉刷了栅栏。|下了象棋。|读了小说。|修好了自行车。|看了鲸鱼。|种了番茄。|煮了汤。|唱了歌。|"
            "参观了博物馆。|写了信。",
        ],
    }.items()
}
THEME = {"en": "The battery drain since the update is awful.", "zh": "系统升级以后手机耗电严重。"}
THEME_WORDS = {"en": "battery drain", "zh": "耗电"}


def _posts(lang: str, plant: tuple[int, ...] = (0,) * DAYS) -> list[Item]:
    """PER_DAY made-up posts a day, each part as often every day; plant[day] of a day's posts also say the theme."""
    items = []
    for day in range(DAYS):
        for n in range(PER_DAY):
            i, j = n % 12, n // 12  # every day has each pair of a person and a doing once
            parts = [PARTS[lang][0][i], PARTS[lang][1][(i + j) % 12], PARTS[lang][2][(i + 2 * j + day) % 12]]
            if n < plant[day]:
                parts.append(THEME[lang])
            text = (" " if lang == "en" else "").join(parts)
            when = START + timedelta(days=day, minutes=7 * n)
            items.append(Item(id=f"{lang}-{day}-{n}", source="fixture", title="", text=text, published=when, lang=lang))
    return items


def _spans(items: list[Item]) -> tuple[list[Item], list[Item]]:
    """The items of the window (the last day) and of the baseline."""
    window = START + timedelta(days=DAYS - 1)
    current = [item for item in items if item.published and item.published >= window]
    return current, [item for item in items if item.published and item.published < window]


def _scan(items: list[Item]) -> dict[str, Any]:
    return scan_trends(*_spans(items))


def _shuffled_days(items: list[Item], seed: int) -> list[Item]:
    """The same posts with their publication times handed out again at random."""
    times = [item.published for item in items]
    random.Random(seed).shuffle(times)
    return [item.model_copy(update={"published": when}) for item, when in zip(items, times, strict=True)]


def _words(found: dict[str, Any]) -> set[str]:
    return {found["theme"], *found["keywords"]}


@pytest.mark.parametrize("seed", range(5))
def test_a_window_like_its_baseline_has_nothing_rising(seed: int) -> None:
    # Every post has the theme sentence as often before as now, only the dates are shuffled.
    steady = [*_posts("en", plant=(12,) * DAYS), *_posts("zh", plant=(12,) * DAYS)]
    result = _scan(_shuffled_days(steady, seed))
    assert result["tested"] > 20
    assert result["findings"] == [] and result["fading"] == []
    assert result["note"] == f"no theme's share of posts rose significantly ({result['tested']} tested)"


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_theme_that_triples_in_the_window_is_rising(lang: str) -> None:
    result = _scan([*_posts(lang, plant=(10, 10, 10, 30)), *_posts("zh" if lang == "en" else "en")])
    assert result["note"] is None
    rising = [f for f in result["findings"] if THEME_WORDS[lang] in _words(f)]
    assert len(rising) == 1, result["findings"]
    found = rising[0]
    assert found["direction"] == "rising" and (found["current"], found["baseline"]) == (30, 30)
    assert found["score"] == pytest.approx(3.0) and found["adjusted_p"] < 0.01
    assert len(found["examples"]) == 8 and found["examples"][0] == f"{lang}-3-29"  # newest first
    assert not any(THEME_WORDS[lang] in _words(f) for f in result["fading"])


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_theme_that_disappears_is_fading(lang: str) -> None:
    result = _scan([*_posts(lang, plant=(15, 15, 15, 0)), *_posts("zh" if lang == "en" else "en")])
    fading = [f for f in result["fading"] if THEME_WORDS[lang] in _words(f)]
    assert len(fading) == 1 and fading[0]["direction"] == "fading"
    assert (fading[0]["current"], fading[0]["baseline"], fading[0]["score"]) == (0, 45, 0.0)
    assert fading[0]["adjusted_p"] < ALPHA
    assert result["findings"] == [] and "rose significantly" in result["note"]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_theme_absent_before_is_new(lang: str) -> None:
    result = _scan([*_posts(lang, plant=(0, 0, 0, 12)), *_posts("zh" if lang == "en" else "en")])
    new = [f for f in result["findings"] if THEME_WORDS[lang] in _words(f)]
    assert len(new) == 1 and new[0]["direction"] == "new"
    assert (new[0]["current"], new[0]["baseline"]) == (12, 0) and new[0]["adjusted_p"] < ALPHA
    # its growth is stated as if one baseline post had mentioned it: 12/144 against 1/432
    assert new[0]["score"] == pytest.approx(36.0)


def test_a_language_gaining_posts_does_not_make_its_words_rise() -> None:
    # Twice as many Chinese posts in the window, saying what they said before (all of them the theme too).
    posts = [*_posts("en"), *_posts("zh", plant=(PER_DAY,) * DAYS)]
    again = [item.model_copy(update={"id": f"{item.id}-again"}) for item in posts if item.id.startswith("zh-3-")]
    result = _scan([*posts, *again])
    assert result["items_scanned"] == 3 * PER_DAY and result["tested"] > 20
    assert result["findings"] == [] and result["fading"] == []


def test_the_result_names_its_test_and_what_it_was_applied_to() -> None:
    result = _scan(_posts("en"))
    assert "binomial" in result["test"] and "Holm" in result["test"] and str(ALPHA) in result["test"]
    assert result["tested"] > 0 and f"({result['tested']} tested)" in result["note"]


def test_without_a_baseline_nothing_can_rise() -> None:
    posts = _posts("en")
    result = scan_trends(posts, [])
    assert result["findings"] == [] and result["tested"] == 0
    assert "no items before the window" in result["note"]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_named_theme_is_counted_and_tested_as_the_scan_tests_its_phrases(lang: str) -> None:
    posts = [*_posts(lang, plant=(10, 10, 10, 30)), *_posts("zh" if lang == "en" else "en")]
    [phrase] = [f for f in _scan(posts)["findings"] if THEME_WORDS[lang] in _words(f)]
    themes = {"battery": ["battery drain", "耗电"], "chess": ["played chess", "下了象棋"]}
    result = scan_themes(*_spans(posts), themes)
    [named] = result["findings"]
    assert named["theme"] == "battery" and named["keywords"] == [THEME_WORDS[lang]]  # those that found its posts
    assert [named[key] for key in ("current", "baseline", "score", "p", "direction", "examples")] == [
        phrase[key] for key in ("current", "baseline", "score", "p", "direction", "examples")
    ]
    assert named["adjusted_p"] < ALPHA and result["fading"] == [] and result["note"] is None
    [chess] = result["unsupported"]  # as often now as before, in both languages
    assert (chess["theme"], chess["current"], chess["baseline"]) == ("chess", 24, 72)
    assert chess["adjusted_p"] is None or chess["adjusted_p"] >= ALPHA
