"""Per-item polarity (tasks/analysis/polarity.py) on labelled texts written for these tests, both languages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tasks.analysis import polarity as polarity_module
from tasks.analysis.emotions import emotion_words, scan_emotions
from tasks.analysis.polarity import PolarityUnavailable, polarity
from tasks.analysis.polarity_features import affirmed, features, weighted_clauses
from tasks.analysis.sources import Item

FIXTURE = Path(__file__).with_name("fixtures") / "polarity.jsonl"
ROWS = [json.loads(line) for line in FIXTURE.read_text(encoding="utf-8").splitlines()]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_polarity_is_right_on_most_labelled_texts_of_each_language(lang: str) -> None:
    rows = [row for row in ROWS if row["lang"] == lang]
    right = sum(polarity(row["text"], lang).label == row["label"] for row in rows)
    # The fixture is balanced: a constant answer gets half of it right, a neutral answer none.
    assert right / len(rows) >= 0.8, f"{right} of {len(rows)} {lang} texts right"


def test_scores_order_complaints_below_praise() -> None:
    for lang in ("en", "zh"):
        negative = [
            polarity(row["text"], lang).score for row in ROWS if row["lang"] == lang and row["label"] == "negative"
        ]
        positive = [
            polarity(row["text"], lang).score for row in ROWS if row["lang"] == lang and row["label"] == "positive"
        ]
        assert sum(negative) / len(negative) < -0.3 < 0.3 < sum(positive) / len(positive)


@pytest.mark.parametrize(
    ("plain", "negated", "lang"),
    [
        ("The room was clean and quiet.", "The room was not clean and quiet at all.", "en"),
        ("I am happy with the update.", "I am not happy with the update.", "en"),
        ("房间很干净。", "房间不太干净。", "zh"),
        ("很满意。", "不太满意。", "zh"),
    ],
)
def test_negation_turns_the_score_down(plain: str, negated: str, lang: str) -> None:
    assert polarity(negated, lang).label == "negative"
    assert polarity(negated, lang).score < polarity(plain, lang).score - 0.3


@pytest.mark.parametrize(
    ("bad_last", "good_last", "lang"),
    [
        (
            "The staff were lovely, but the wifi never worked.",
            "The wifi never worked, but the staff were lovely.",
            "en",
        ),
        ("服务很好，但是房间太小了。", "房间太小了，但是服务很好。", "zh"),
    ],
)
def test_what_follows_a_contrast_weighs_more(bad_last: str, good_last: str, lang: str) -> None:
    assert polarity(bad_last, lang).score < polarity(good_last, lang).score


def test_negation_reaches_over_the_clause_and_stops_at_its_end() -> None:
    words = [name for name in features("The room was not very clean, the bed was fine", "en") if " " not in name]
    assert "NOT_clean" in words and "clean" not in words
    assert "bed" in words and "NOT_bed" not in words
    assert affirmed("I was not happy and the room smelled", "en") == [
        ["i", "was", "not"],
        ["and", "the", "room", "smelled"],
    ]
    assert "NOT_干净" in features("房间不太干净", "zh")


def test_contrast_weights_the_sentence_after_it() -> None:
    clauses = weighted_clauses("The staff were nice, but the wifi failed, and the bed was awful. Good view.", "en")
    assert [weight for _, weight in clauses] == [0.5, 1.5, 1.5, 1.0]


def test_emotion_words_skip_negated_clause_parts() -> None:
    assert "joy" not in emotion_words("不太满意，跟描述的不一样", "zh")
    assert "joy" not in emotion_words("I am not happy with this, honestly", "en")
    assert "joy" in emotion_words("I am happy with this", "en")


def test_the_emotion_scan_reports_per_item_polarity_and_shares() -> None:
    items = [
        Item(id=row["id"], source="fixture", title="", text=row["text"], published=None, lang=row["lang"])
        for row in ROWS
    ]
    result = scan_emotions(items)
    by_id = {entry["id"]: entry for entry in result["items"]}
    assert set(by_id) == {row["id"] for row in ROWS}
    right = sum(by_id[row["id"]]["polarity"] == row["label"] for row in ROWS)
    assert right / len(ROWS) >= 0.8
    assert abs(result["polarity"]["negative"] - 0.5) < 0.15 and sum(result["polarity"].values()) == pytest.approx(
        1, abs=1e-3
    )
    # A complaint's sarcasm is not joy: no negative item carries joy or trust.
    assert not any(
        {"joy", "trust"} & set(entry["emotions"]) for entry in result["items"] if entry["polarity"] == "negative"
    )
    assert scan_emotions([])["note"] == "no items in the window"


def test_a_missing_model_file_is_one_line_naming_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(polarity_module, "DATA_DIR", tmp_path)
    polarity_module.forget_models()
    try:
        with pytest.raises(PolarityUnavailable) as caught:
            polarity("hello", "en")
    finally:
        monkeypatch.undo()
        polarity_module.forget_models()
    message = str(caught.value)
    assert "\n" not in message and str(tmp_path / "polarity_en.npz") in message and "train_polarity" in message
    with pytest.raises(PolarityUnavailable, match="no model for language 'fr'"):
        polarity("bonjour", "fr")
