"""Speed and memory of the four perception scans over one large window, each in a process of its own.

10,000 items (half English tweets, half Chinese reviews from ``devtools/corpora.py``) dated inside one
day, and 30,000 more over the three days before it for the trend scan's baseline, are written to a JSON
Lines file. Each scan then runs in a fresh process, as in a perception worker's pool child: it loads the
models (a worker does that once, when it starts), reads the file as the scan's task does, and scans the
window. The table gives per scan the seconds (reading included, loading not), the items per second and
the process's peak resident memory with every model loaded; then the wall time of the four run two at a
time, as the embedded profile's perception worker (two pool children) runs them on two cores.

    .venv/bin/python -m bench.scans [--items 10000] [--json PATH]
"""

from __future__ import annotations

import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import BenchError, Report, main, parser
from devtools.corpora import CorpusError, corpus

DAY = datetime(2026, 1, 8, tzinfo=UTC)
BASELINE_DAYS = 3
SCANS = {"q1": "pain points", "q2": "polarity and emotions", "q3": "trends", "q4": "scenes"}
PARALLEL = 2  # the embedded profile's perception worker runs two pool children


def write_items(path: Path, count: int) -> None:
    """``count`` items in the window and three times as many before it, half in each language."""
    rng = random.Random(0)
    with path.open("w", encoding="utf-8") as out:
        for tag, start, days, n in (("now", DAY, 1, count), ("before", DAY - timedelta(days=3), 3, 3 * count)):
            for lang in ("en", "zh"):
                rows = corpus(lang).rows
                for i in range(n // 2):
                    moment = start + timedelta(seconds=rng.randrange(days * 86400))
                    record = {"id": f"{tag}-{lang}-{i}", "text": rows[rng.randrange(len(rows))].text,
                              "lang": lang, "published": moment.isoformat()}  # fmt: skip
                    out.write(json.dumps(record, ensure_ascii=False) + "\n")


def scan_in_this_process(path: str, scan: str) -> dict[str, Any]:
    """What a perception worker's pool child does for one scan: models loaded, then read and scan."""
    from tasks.analysis.emotions import scan_emotions
    from tasks.analysis.pain_points import scan_pain_points
    from tasks.analysis.polarity import load_models
    from tasks.analysis.scenes import scan_scenes
    from tasks.analysis.sources import Window, load_window
    from tasks.analysis.text import warm_up
    from tasks.analysis.trends import scan_trends

    warm_up()
    load_models()
    window = Window(start=DAY, end=DAY + timedelta(days=1))
    started = time.perf_counter()
    if scan == "q3":  # as the trend scanner does: one read of the window and the baseline before it
        both = load_window([path], Window(start=window.before(BASELINE_DAYS).start, end=window.end)).items
        items = [item for item in both if item.published and window.holds(item.published)]
        scan_trends(items, [item for item in both if item.published and not window.holds(item.published)])
    else:
        items = load_window([path], window).items
        {"q1": scan_pain_points, "q2": scan_emotions, "q4": scan_scenes}[scan](items)
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"items": len(items), "seconds": seconds, "peak_mb": peak_mb}


def _child(path: Path, scan: str) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.scans", "--scan-file", str(path), "--scan", scan]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode:
        raise BenchError(f"the {scan} scan failed: {(done.stderr.strip().splitlines() or ['no output'])[-1]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def body(report: Report) -> None:
    with tempfile.TemporaryDirectory(prefix="organism-bench-scans-") as tmp:
        path = Path(tmp) / "items.jsonl"
        try:
            write_items(path, report.args.items)
        except CorpusError as exc:
            raise BenchError(str(exc)) from exc
        alone = {scan: _child(path, scan) for scan in SCANS}
        started = time.perf_counter()
        with ThreadPoolExecutor(PARALLEL) as pool:
            list(pool.map(lambda scan: _child(path, scan), SCANS))
        together = time.perf_counter() - started
    count = alone["q1"]["items"]
    rows = [[f"{scan} {name}", round(alone[scan]["seconds"], 2), round(count / alone[scan]["seconds"]),
             round(alone[scan]["peak_mb"])] for scan, name in SCANS.items()]  # fmt: skip
    rows.append(
        [f"the four, {PARALLEL} at a time (model loading included)", round(together, 2), round(count / together), "-"]
    )
    report.table(f"Scans over {count:,} items ({3 * count:,} more in the trend baseline)",
                 ["scan", "seconds", "items/s", "peak MB"], rows)  # fmt: skip


if __name__ == "__main__":
    cli = parser(__doc__.split("\n\n")[0])
    cli.add_argument("--items", type=int, default=10_000, help="items in the window (default 10000)")
    cli.add_argument("--scan-file", help="(internal) run one scan over this file here and print its figures")
    cli.add_argument("--scan", choices=sorted(SCANS), help="(internal) the scan --scan-file runs")
    cli.set_defaults(time_limit=900)
    arguments = cli.parse_args()
    if arguments.scan_file:
        print(json.dumps(scan_in_this_process(arguments.scan_file, arguments.scan)))
        sys.exit(0)
    sys.exit(main("bench.scans", arguments, body))
