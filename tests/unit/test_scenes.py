"""Behaviour of the q4 scene scan on small English and Chinese posts written for these tests."""

from __future__ import annotations

from typing import Any

import pytest

from tasks.analysis.scenes import scan_scenes, situations
from tasks.analysis.sources import Item


def _items(*posts: tuple[str, str, str]) -> list[Item]:
    return [Item(id=id_, source="fixture", title="", text=text, published=None, lang=lang) for id_, lang, text in posts]


def _by_theme(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["theme"]: f for f in result["findings"]}


def _values(text: str, lang: str) -> list[dict[str, str]]:
    return [dict(s.key) for s in situations(text, lang)]


SITUATED = _items(
    ("e1", "en", "I draft notes during my commute on the train, mostly on my phone."),
    ("e2", "en", "My commute is on the train so I write on my phone. Sync is quick."),
    ("e3", "en", "Stuck at the gate in Denver for three hours and the app kept crashing."),
    ("e4", "en", "Sitting at the airport again, the boarding pass would not load."),
    ("e5", "en", "The battery life is average, really, in every aspect."),
    ("z1", "zh", "出差住酒店的时候网速太慢了。"),
    ("z2", "zh", "每次出差在酒店里都用它，很方便。"),
    ("z3", "zh", "地铁上用手机看视频，一点都不卡。"),
    ("z4", "zh", "坐地铁的时候用手机看视频，流量很省。"),
    ("z5", "zh", "这款产品性价比很高，质量不错。"),
)

FALSE_HITS = [
    ("en", "The home button stopped responding after the update."),
    ("en", "We need to train the model on more data first."),
    ("en", "It doesn't work at all and support never answers."),
    ("en", "Self-driving cars are the future of transport."),
    ("en", "I love my new iPhone, best phone ever!"),
    ("en", "I don't play games, so the graphics card is wasted on me."),
    ("zh", "打开车门就闻到一股烟味。"),
    ("zh", "家里人都说这本书很好看。"),
    ("zh", "床上用品很干净，服务也好。"),
    ("zh", "这个上网本性价比很高。"),
    ("zh", "窗户外面就是一片工地。"),
    ("zh", "还好我不玩游戏，显卡一般也无所谓。"),
    ("zh", "用起来很顺手，推荐购买。"),
]


def test_cues_of_a_sentence_make_one_scene_with_the_posts_behind_it() -> None:
    result = scan_scenes(SITUATED)
    scenes = _by_theme(result)
    assert set(scenes) == {
        "commuting · on the train · phone",
        "waiting · at the airport",
        "出差 · 酒店",
        "看视频 · 地铁上 · 手机",
    }
    assert sorted(scenes["commuting · on the train · phone"]["examples"]) == ["e1", "e2"]
    assert sorted(scenes["waiting · at the airport"]["examples"]) == ["e3", "e4"]
    assert sorted(scenes["出差 · 酒店"]["examples"]) == ["z1", "z2"]
    assert sorted(scenes["看视频 · 地铁上 · 手机"]["examples"]) == ["z3", "z4"]
    assert scenes["出差 · 酒店"]["facets"] == {"time": None, "place": "酒店", "activity": "出差", "device": None}
    assert scenes["commuting · on the train · phone"]["facets"] == {
        "time": None,
        "place": "on the train",
        "activity": "commuting",
        "device": "phone",
    }
    keywords = scenes["commuting · on the train · phone"]["keywords"]
    assert keywords[0] == "on my phone"  # in both posts; the others in one each
    assert set(keywords) == {"on my phone", "commute on the train", "commute", "on the train"}
    assert scenes["出差 · 酒店"]["keywords"][0] == "出差"  # in both posts, ahead of 住酒店 and 在酒店 (one each)


def test_result_has_the_shape_synthesis_reads() -> None:
    result = scan_scenes(SITUATED, top_n=3)
    assert (result["quadrant"], result["items_scanned"], result["scene_items"]) == ("q4", 10, 8)
    assert len(result["findings"]) == 3
    for found in result["findings"]:
        assert set(found) == {"theme", "score", "mentions", "examples", "keywords", "facets"}
        assert found["score"] == pytest.approx(found["mentions"] / 10)
        assert set(found["examples"]) <= {item.id for item in SITUATED}
        assert set(found["facets"]) == {"time", "place", "activity", "device"}
    assert scan_scenes([]) == {"quadrant": "q4", "items_scanned": 0, "scene_items": 0, "findings": []}


@pytest.mark.parametrize(("lang", "text"), FALSE_HITS)
def test_words_that_only_look_like_a_situation_give_none(lang: str, text: str) -> None:
    assert situations(text, lang) == []


def test_posts_without_a_situation_give_no_scene_however_many() -> None:
    posts = [(f"{lang}{n}-{copy}", lang, text) for n, (lang, text) in enumerate(FALSE_HITS) for copy in range(3)]
    assert scan_scenes(_items(*posts)) == {"quadrant": "q4", "items_scanned": 39, "scene_items": 0, "findings": []}


def test_generic_words_count_inside_a_phrase_that_makes_them_a_situation() -> None:
    assert _values("I read it at home before the train ride to work.", "en") == [
        {"place": "at home"}  # the first place a sentence names is its place
    ]
    assert _values("Working from home. Late at night on the train.", "en") == [
        {"activity": "working", "place": "at home"},
        {"place": "on the train", "time": "late at night"},
    ]
    assert _values("I use it at work every day.", "en") == [{"place": "at the office"}]
    assert _values("上班的时候用它记笔记。", "zh") == [{"activity": "办公"}]
    assert _values("我每天开车上班。", "zh") == [{"activity": "开车"}]
    assert _values("没人需要下厨，爸妈来家里住。", "zh") == [{"place": "家里"}]  # cooking is negated, home is not


def test_a_rare_combination_joins_its_most_common_generalisation() -> None:
    items = _items(
        ("a", "en", "I read it on the train."),
        ("b", "en", "Handy on the train."),
        ("c", "en", "On the train I use it on my phone."),
    )
    scenes = _by_theme(scan_scenes(items))
    assert list(scenes) == ["on the train"]
    assert sorted(scenes["on the train"]["examples"]) == ["a", "b", "c"]
    assert "on my phone" not in scenes["on the train"]["keywords"]  # the phone was dropped with its facet


def test_scenes_that_share_most_of_their_posts_merge() -> None:
    items = _items(
        ("a", "en", "I work night shifts. Checked it at 3am."),
        ("b", "en", "Night shift again! At 2am it finally synced."),
        ("c", "en", "Back on night shift. The alert came at 4am."),
    )
    [scene] = scan_scenes(items)["findings"]
    assert scene["theme"] == "night shift · late at night"
    assert scene["facets"]["activity"] == "night shift" and scene["facets"]["time"] == "late at night"
    assert sorted(scene["examples"]) == ["a", "b", "c"]


def test_a_post_counts_only_in_its_most_specific_scene() -> None:
    items = _items(
        ("a", "zh", "出差住酒店，出差真累。"),
        ("b", "zh", "出差在酒店里用。"),
        ("c", "zh", "出差的时候用。"),
        ("d", "zh", "出差带着它。"),
    )
    scenes = _by_theme(scan_scenes(items))
    assert sorted(scenes["出差 · 酒店"]["examples"]) == ["a", "b"]
    assert sorted(scenes["出差"]["examples"]) == ["c", "d"]
