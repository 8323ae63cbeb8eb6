"""The four perception scans' model path, against the fake model server: converted to the local shape, validated
(item ids included), repaired once, and the local path, degraded, when the model cannot give a valid answer."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from scipy.stats import binomtest

from organism.gateway.structured import NO_MODEL
from organism.settings import get_settings
from tasks import perception
from tasks.analysis.emotions import EMOTIONS, scan_emotions
from tasks.analysis.pain_points import scan_pain_points
from tasks.analysis.scenes import scan_scenes
from tasks.analysis.sources import Item, Window, load_window
from tasks.analysis.text import finding, item_text
from tasks.analysis.trends import ALPHA, TEST, scan_trends
from tasks.samples import SAMPLE_SOURCES
from tasks.scan_models.asking import MAX_ITEMS, sample
from tasks.scan_models.emotions import LABEL_BATCH
from tests.gateway import test_structured
from tests.gateway.conftest import FakeServer

pytestmark = pytest.mark.integration
model_env = test_structured.model_env  # the fixture: settings pointed at the fake model

SAMPLE = list(SAMPLE_SOURCES)
START = datetime(2026, 12, 13, tzinfo=ZoneInfo("Asia/Shanghai"))
DAY = Window(start=START, end=START + timedelta(days=1))  # "service fee" rises on this day
WEEK = Window(start=START - timedelta(days=6), end=DAY.end)  # more items than one prompt carries
SHARED = set(finding("theme", 0, 0, [], []))  # the keys every finding has, whichever path made it
_SCANS = (perception.pain_scanner, perception.emotion_scanner, perception.trend_scanner, perception.scene_scanner)


def _items(window: Window) -> list[Item]:
    return load_window(SAMPLE, window).items


def _local_findings() -> list[list[dict[str, Any]]]:
    """What each local scan finds on DAY."""
    items = _items(DAY)
    return [scan_pain_points(items)["findings"], scan_emotions(items)["findings"],
            scan_trends(items, _items(DAY.before(3)))["findings"], scan_scenes(items)["findings"]]


def _about(items: list[Item], *phrases: str) -> list[str]:
    return [i.id for i in items if any(phrase in item_text(i).lower() for phrase in phrases)]


def _reply(**value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _fee_complaints(evidence: list[str]) -> str:
    return _reply(findings=[{"theme": "new service fee on every order", "aspect": "service fee",
                             "complaint": "added without notice", "evidence": evidence}])


def test_the_pain_scan_takes_the_models_complaints_in_the_local_shape(model_env: FakeServer) -> None:
    items = _items(DAY)
    fee, chargers = _about(items, "service fee", "服务费"), _about(items, "out of order")
    model_env.control(replies=[_reply(findings=[
        {"theme": "chargers out of order", "aspect": "chargers", "complaint": "out of order", "evidence": chargers},
        {"theme": "new service fee on every order", "aspect": "service fee", "complaint": "added without notice",
         "evidence": [*fee, fee[0]]}])])

    result = perception.pain_scanner(SAMPLE, DAY.as_json())

    assert result["engine"] == "model:fake-model" and "degraded" not in result
    assert result["quadrant"] == "q1" and result["window"] == DAY.as_json()
    assert result["items_scanned"] == result["items_sent"] == len(items)
    assert result["pain_items"] == len(set(fee) | set(chargers))
    assert len(fee) > len(chargers) >= 2
    assert result["findings"] == [
        finding("new service fee on every order", len(fee), len(fee), fee, ["service fee", "added without notice"],
                aspect="service fee", complaint="added without notice"),
        finding("chargers out of order", len(chargers), len(chargers), chargers, ["chargers", "out of order"],
                aspect="chargers", complaint="out of order")]
    assert model_env.stats()["requests"] == 1


def test_the_emotion_scan_labels_a_sample_in_batches_and_counts_it_as_the_local_scan_does(
        model_env: FakeServer) -> None:
    items = _items(WEEK)
    sent = sample(items, MAX_ITEMS)
    batches = [sent[n : n + LABEL_BATCH] for n in range(0, len(sent), LABEL_BATCH)]
    angry = set(_about(sent, "service fee", "服务费"))
    happy = set(_about(sent, "great", "excellent")) - angry
    left_out = batches[-1][-1].id

    def label(item: Item) -> dict[str, Any]:
        if item.id in angry:
            return {"id": item.id, "polarity": "negative", "score": -0.8, "emotions": ["anger", "anger"]}
        if item.id in happy:
            return {"id": item.id, "polarity": "positive", "score": 0.6, "emotions": ["joy", "trust"]}
        return {"id": item.id, "polarity": "neutral", "score": 0.0, "emotions": []}

    model_env.control(replies=[_reply(items=[label(i) for i in batch if i.id != left_out]) for batch in batches])

    result = perception.emotion_scanner(SAMPLE, WEEK.as_json())

    assert result["engine"] == "model:fake-model" and "degraded" not in result
    assert len(items) > MAX_ITEMS == result["items_sent"] and result["items_scanned"] == len(items)
    assert model_env.stats()["requests"] == len(batches) == 3
    labelled = len(sent) - 1
    assert result["unlabelled"] == 1
    assert [i["id"] for i in result["items"]] == [i.id for i in sent if i.id != left_out]
    assert result["polarity"] == {"positive": round(len(happy) / labelled, 4),
                                  "negative": round(len(angry) / labelled, 4),
                                  "neutral": round((labelled - len(angry) - len(happy)) / labelled, 4)}
    labels = len(angry) + 2 * len(happy)
    assert result["distribution"] == {e: round({"anger": len(angry), "joy": len(happy), "trust": len(happy)}
                                               .get(e, 0) / labels, 4) for e in EMOTIONS}
    assert [f["theme"] for f in result["findings"]] == ["anger", "joy", "trust"]  # len(angry) > len(happy)
    anger = result["findings"][0]
    assert set(anger) >= SHARED and anger["mentions"] == len(angry) and set(anger["examples"]) <= angry
    assert anger["score"] == result["distribution"]["anger"] and "service fee" in anger["keywords"]
    assert next(i for i in result["items"] if i["id"] in angry)["emotions"] == ["anger"]


def test_the_trend_scan_tests_the_models_themes_as_the_local_scan_tests_its_phrases(model_env: FakeServer) -> None:
    current, before = _items(DAY), _items(DAY.before(3))
    fee = _about(current, "service fee", "服务费")
    cold = _about(current, "cold")
    model_env.control(replies=[_reply(themes=[
        {"theme": "the new service fee", "direction": "new", "keywords": ["service fee", "服务费"],
         "evidence": fee[:2]},
        {"theme": "charging in the cold", "direction": "rising", "keywords": ["cold"], "evidence": cold[:1]}])])

    result = perception.trend_scanner(SAMPLE, DAY.as_json())

    assert result["engine"] == "model:fake-model" and "degraded" not in result
    coverage = {"window", "undated", "outside"}  # what the skill adds to either path's result
    assert set(result) == set(scan_trends(current, before)) | coverage | {"items_sent", "engine", "unsupported"}
    assert (result["items_scanned"], result["baseline"], result["test"]) == (len(current), len(before), TEST)
    assert result["items_sent"] == len(current) + min(len(before), MAX_ITEMS // 2)
    # The fee, in English and in Chinese, and the cold, in English: three binomial tests, each against its language.
    assert result["tested"] == 3 and result["note"] is None and result["fading"] == []
    [rising] = result["findings"]
    en_fee, en_now = set(_about(current, "service fee")), [i for i in current if i.lang == "en"]
    en_before = [i for i in before if i.lang == "en"]
    assert (rising["current"], rising["baseline"]) == (len(en_fee), len(_about(before, "service fee"))) == (5, 1)
    share = len(en_now) / (len(en_now) + len(en_before))
    newest_first = [i.id for i in sorted(current, key=lambda i: (i.published, i.id), reverse=True) if i.id in en_fee]
    p = binomtest(5, 6, share).pvalue
    assert (rising["p"], rising["adjusted_p"]) == (float(f"{p:.3g}"), float(f"{3 * p:.3g}"))  # Holm: 3 tests
    assert rising == finding("the new service fee", (5 / len(en_now)) / (1 / len(en_before)), 6,
                             newest_first, ["service fee"], current=5, baseline=1,
                             p=rising["p"], adjusted_p=rising["adjusted_p"], direction="rising")
    [cold_theme] = result["unsupported"]
    assert cold_theme["theme"] == "charging in the cold" and cold_theme["claimed"] == "rising"
    assert (cold_theme["current"], cold_theme["baseline"]) == (len(cold), len(_about(before, "cold")))
    assert cold_theme["adjusted_p"] >= ALPHA
    assert model_env.stats()["requests"] == 1


def test_the_scene_scan_takes_the_models_scenes_with_their_facets(model_env: FakeServer) -> None:
    items = _items(DAY)
    night = _about(items, "night shift", "夜班")
    model_env.control(replies=[_reply(scenes=[{"theme": "night shift / ordering food", "evidence": night,
                                               "facets": {"time": "night", "activity": "ordering food on a break",
                                                          "place": None, "device": None}}])])

    result = perception.scene_scanner(SAMPLE, DAY.as_json())

    assert result["engine"] == "model:fake-model" and result["items_sent"] == len(items)
    assert result["findings"] == [finding(
        "night shift / ordering food", len(night) / len(items), len(night), night,
        ["night", "ordering food on a break"],
        facets={"time": "night", "place": None, "activity": "ordering food on a break", "device": None})]


def test_a_reply_the_fake_model_makes_up_from_the_schema_cites_an_item_that_was_sent(model_env: FakeServer) -> None:
    items = _items(DAY)

    result = perception.pain_scanner(SAMPLE, DAY.as_json())

    assert result["engine"] == "model:fake-model"  # the JSON schema listed the ids sent, so the first one is cited
    assert [f["examples"] for f in result["findings"]] == [[items[0].id]]


def test_a_malformed_reply_is_repaired_once_with_its_validation_error(model_env: FakeServer) -> None:
    items = _items(DAY)
    model_env.control(replies=['{"scenes": [{"theme": "at night"}]}', _reply(scenes=[
        {"theme": "at night", "facets": {"time": "night"}, "evidence": [items[0].id]}])])

    result = perception.scene_scanner(SAMPLE, DAY.as_json())

    assert result["engine"] == "model:fake-model" and "degraded" not in result
    assert [f["theme"] for f in result["findings"]] == ["at night"]
    assert model_env.stats()["requests"] == 2


def test_two_malformed_replies_send_the_scan_down_its_local_path_degraded(model_env: FakeServer) -> None:
    model_env.control(replies=["not JSON at all", '{"findings": [{"theme": "battery"}]}'])

    result = perception.pain_scanner(SAMPLE, DAY.as_json())

    assert result["engine"].startswith("deterministic (model unavailable: the model's reply to 'scan_q1' was not "
                                       "a valid PainReply after one repair: findings.0.aspect: Field required")
    assert [d["dependency"] for d in result["degraded"]] == ["model"]
    assert result["degraded"][0]["reason"].startswith("the model's reply to 'scan_q1' was not a valid PainReply")
    assert result["findings"] == scan_pain_points(_items(DAY))["findings"]
    assert model_env.stats()["requests"] == 2


def test_a_reply_citing_an_item_not_sent_is_repaired(model_env: FakeServer) -> None:
    fee = _about(_items(DAY), "service fee")
    model_env.control(replies=[_fee_complaints([fee[0], "post-9999"]), _fee_complaints(fee)])

    result = perception.pain_scanner(SAMPLE, DAY.as_json())

    assert result["engine"] == "model:fake-model"
    assert result["findings"][0]["examples"] == fee
    assert model_env.stats()["requests"] == 2


def test_a_reply_that_keeps_citing_items_not_sent_is_not_used(model_env: FakeServer) -> None:
    fee = _about(_items(DAY), "service fee")
    model_env.control(replies=[_fee_complaints([fee[0], "post-9999"]), _fee_complaints(["post-0", "post-9999"])])

    result = perception.pain_scanner(SAMPLE, DAY.as_json())

    assert result["degraded"][0]["reason"].endswith("reply: Value error, cites 2 id(s) of no item sent "
                                                    "(post-0, post-9999); cite only the ids of the items given")
    assert result["findings"] == scan_pain_points(_items(DAY))["findings"]
    assert model_env.stats()["requests"] == 2


def test_past_the_budget_every_scan_goes_on_locally_degraded(model_env: FakeServer,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORGANISM_GATEWAY__DAILY_BUDGET_USD", "0")
    get_settings.cache_clear()

    results = [scan(SAMPLE, DAY.as_json()) for scan in _SCANS]

    for result in results:
        assert result["engine"].startswith("deterministic (model unavailable: daily model budget reached")
        assert [d["dependency"] for d in result["degraded"]] == ["model"]
    assert [r["findings"] for r in results] == _local_findings()
    assert model_env.stats()["requests"] == 0


def test_a_window_without_items_does_not_ask_the_model(model_env: FakeServer) -> None:
    empty = Window(start=datetime(2020, 1, 1, tzinfo=ZoneInfo("UTC")), end=datetime(2020, 1, 2, tzinfo=ZoneInfo("UTC")))

    results = [scan(SAMPLE, empty.as_json()) for scan in _SCANS]

    assert {r["engine"] for r in results} == {"deterministic (no items in the window)"}
    assert model_env.stats()["requests"] == 0


def test_without_a_model_every_scan_takes_its_local_path_and_says_so(store_url: str,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORGANISM_DATABASE_URL", store_url)
    monkeypatch.delenv("ORGANISM_GATEWAY__BASE_URL", raising=False)
    get_settings.cache_clear()
    try:
        results = [scan(SAMPLE, DAY.as_json()) for scan in _SCANS]
    finally:
        get_settings.cache_clear()

    assert [r["engine"] for r in results] == [NO_MODEL] * 4
    assert [r["findings"] for r in results] == _local_findings()
    assert all("items_sent" not in r and "degraded" not in r for r in results)
