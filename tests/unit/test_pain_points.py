"""The q1 pain-point scan on small labelled posts: themes name what is wrong, only negative posts are evidence."""

from __future__ import annotations

from typing import Any

import pytest

from tasks.analysis.complaints import read
from tasks.analysis.pain_points import scan_pain_points
from tasks.analysis.polarity import polarity
from tasks.analysis.sources import Item

# Hotel reviews: every one names the hotel; the negative ones complain about the Wi-Fi and the room's
# cleanliness, the positive ones praise the staff, the breakfast and, once, the Wi-Fi.
EN_NEGATIVE = [
    "Terrible hotel. The wifi doesn't work in the rooms and nobody at the desk helps.",
    "The Wi-Fi keeps dropping and the wifi is not working at all. Worst hotel stay ever.",
    "Wi-Fi not working again. Awful hotel, I want a refund.",
    "The staff were nice but the wifi never worked. Very disappointing hotel.",
    "The wifi doesn't work and the hotel ignored our complaints. Horrible.",
    "The room was not clean. Disgusting hotel, stains everywhere.",
    "Our room was not clean, hair in the shower. Never again at this hotel.",
    "The room was not clean when we arrived and it smelled awful. Bad hotel.",
    "Awful hotel, the room was not clean and the sheets were stained.",
    "I hated this hotel: the room was not clean and the towels were dirty.",
]
EN_POSITIVE = [
    "Lovely hotel, the staff were friendly and the breakfast was great.",
    "Great hotel near the station, the staff were friendly and helpful.",
    "Wonderful hotel, spotless room and a very comfortable bed.",
    "The hotel was excellent and the staff were lovely. Highly recommend!",
    "Beautiful hotel with a great pool, the room was spacious and clean.",
    "Perfect hotel for a weekend, the staff were nice and the breakfast was delicious.",
    "Amazing hotel, the wifi was fast and the room was quiet.",
    "Nice hotel, great location and friendly staff, we loved it.",
    "Fantastic hotel, clean room, great breakfast. We will be back!",
    "Really enjoyed this hotel, the staff were wonderful and the view was beautiful.",
]
ZH_NEGATIVE = [
    "房间不干净，床单上有污渍，对这家酒店很失望。",
    "房间不干净，卫生间有异味，这家酒店不会再住了。",
    "服务员很热情，但是房间不干净，酒店太让人失望了。",
    "酒店房间不干净，地毯很脏，太差了。",
    "房间不干净，到处是头发，这酒店真的很糟糕。",
    "酒店的网络连不上，打电话给前台也没人管，太差了。",
    "网络连不上，根本没法工作，再也不住这家酒店了。",
    "酒店网络连不上，问了三次都没解决，非常失望。",
    "网络一直连不上，酒店服务也很差，不推荐。",
    "糟糕的酒店，网络连不上，房间还很吵。",
]
ZH_POSITIVE = [
    "酒店环境很好，服务员很热情，早餐也很丰富。",
    "酒店位置方便，房间干净整洁，非常满意。",
    "很不错的酒店，前台服务周到，下次还会再来。",
    "酒店早餐丰富，房间宽敞明亮，推荐入住。",
    "酒店交通便利，服务很好，性价比很高。",
    "房间很干净，床很舒服，酒店服务也很棒。",
    "酒店设施很新，网络速度很快，服务员很有礼貌。",
    "这家酒店的服务非常好，早餐好吃，环境安静。",
    "酒店非常漂亮，服务热情，房间舒适，值得推荐。",
    "很满意的一次入住，酒店干净，服务员态度很好。",
]


def _items(lang: str, negative: list[str], positive: list[str]) -> tuple[list[Item], set[str]]:
    """Items for the posts, and the ids of the negative ones."""
    posts = [("neg", text) for text in negative] + [("pos", text) for text in positive]
    items = [
        Item(id=f"{lang}-{kind}-{n}", source="fixture", title="", text=text, published=None, lang=lang)
        for n, (kind, text) in enumerate(posts)
    ]
    return items, {item.id for item in items if "-neg-" in item.id}


@pytest.fixture(scope="module", params=["en", "zh"])
def fixture(request: pytest.FixtureRequest) -> tuple[str, list[Item], set[str], dict[str, Any]]:
    lang = request.param
    negative, positive = (EN_NEGATIVE, EN_POSITIVE) if lang == "en" else (ZH_NEGATIVE, ZH_POSITIVE)
    items, negative_ids = _items(lang, negative, positive)
    # The scan trusts polarity() for which posts complain; these posts are plain enough that it must agree.
    assert {i.id for i in items if polarity(i.text, lang).label == "negative"} == negative_ids
    return lang, items, negative_ids, scan_pain_points(items)


def _themes(scan: dict[str, Any]) -> list[str]:
    return [found["theme"] for found in scan["findings"]]


def test_themes_name_the_aspect_and_what_is_wrong_with_it(fixture: tuple[str, list[Item], set[str], Any]) -> None:
    lang, _, _, scan = fixture
    assert scan["quadrant"] == "q1" and scan["items_scanned"] == 20 and scan["pain_items"] == 10
    expected = {"en": {"wifi not working", "room not clean"}, "zh": {"网络连不上", "房间不干净"}}[lang]
    assert expected <= set(_themes(scan)), _themes(scan)
    wifi = next(f for f in scan["findings"] if f["theme"] in ("wifi not working", "网络连不上"))
    assert wifi["aspect"] in ("wifi", "网络") and wifi["complaint"] in ("not working", "连不上")
    assert wifi["mentions"] == 5 and wifi["z"] > 0 and wifi["score"] > 0


def test_a_word_every_post_uses_is_not_a_theme(fixture: tuple[str, list[Item], set[str], Any]) -> None:
    lang, _, _, scan = fixture
    hotel = "hotel" if lang == "en" else "酒店"
    assert scan["findings"]
    for found in scan["findings"]:
        assert found["aspect"] != hotel and found["theme"] != hotel, found


def test_evidence_comes_only_from_negative_posts(fixture: tuple[str, list[Item], set[str], Any]) -> None:
    _, _, negative_ids, scan = fixture
    cited = {post for found in scan["findings"] for post in found["examples"]}
    assert cited and cited <= negative_ids


def test_praise_in_a_complaint_is_not_a_theme(fixture: tuple[str, list[Item], set[str], Any]) -> None:
    """ "The staff were nice but the wifi never worked": the staff are not what is wrong."""
    _, _, _, scan = fixture
    for found in scan["findings"]:
        assert found["aspect"] not in ("staff", "服务员"), found


def test_themes_rest_on_the_contrast_between_negative_and_other_posts() -> None:
    """With too few posts that do not complain, no z-score can set a complaint apart, and the scan says so."""
    items, _ = _items("en", EN_NEGATIVE, EN_POSITIVE)
    negative_only = [item for item in items if "-neg-" in item.id]
    scan = scan_pain_points(negative_only)
    assert scan["pain_items"] == 10 and "too few items that do not complain" in scan["note"]
    # What it still reports is what two or more of the complaining posts say.
    assert all(found["mentions"] >= 2 for found in scan["findings"])
    assert scan_pain_points(items)["findings"] and scan_pain_points(items * 3)["note"] is None


@pytest.mark.parametrize(
    ("text", "lang", "pairs"),
    [
        ("The staff were nice but the wifi never worked.", "en", {"staff nice", "wifi not working"}),
        ("The room was not clean.", "en", {"room not clean"}),
        ("The room was clean, the wifi was not.", "en", {"room clean"}),
        ("Wifi doesn't work, can't connect.", "en", {"wifi not working", "wifi not connecting"}),
        ("The driver installation failed twice.", "en", {"driver installation failed"}),
        ("服务员很友好，但是房间不干净。", "zh", {"服务员友好", "房间不干净"}),
        ("房间很舒服，不过不干净。", "zh", {"房间舒服", "房间不干净"}),
        ("驱动安装失败。", "zh", {"驱动安装失败"}),
        ("电话被多扣了钱。", "zh", {"电话多扣"}),
        ("送货太慢了。", "zh", {"送货太慢"}),
    ],
)
def test_negation_stays_in_its_clause_and_contrast_splits_clauses(text: str, lang: str, pairs: set[str]) -> None:
    assert {c.phrase(lang) for c in read(text, lang).complaints} == pairs
