"""The Daily Sync's shape with no-op bodies, end to end: raw Celery canvases against Organism's tracked run.

Shape: four scans in parallel -> synthesis -> two evaluations in parallel -> store (``tasks.daily_sync.shape``).
One worker process per organ (perception with two prefork children, the others one), as ``LocalWorkers``
starts them. Variants, alternated run by run on the same workers:

* raw canvas: ``chain(chord([4 raw], raw), chord([2 raw], raw))`` of plain ``@shared_task`` no-ops;
* skills, no run: the same canvas of the no-op skills of ``tests/support/noop.py``, sent without a run, so
  nothing is written to the store (what the skill wrapper costs);
* Organism run: ``start(app, "noop-sync", {"date": day})`` -- run and node rows, the canvas, node tracking (written by
  each worker process's writer thread, organism/workflows/node_writer.py) -- until the store node's result arrives;
* on embedded, also a stock Celery canvas on SQLite (kombu's 1 s polling, ``chord_unlock``), fewer runs.

    .venv/bin/python -m bench.daily_sync                        # production, then embedded
    .venv/bin/python -m bench.daily_sync --profile production
"""

from __future__ import annotations

import argparse
import itertools
import time
import uuid
from collections import Counter
from collections.abc import Callable
from contextlib import nullcontext
from datetime import date, timedelta

from celery import Celery
from celery.result import AsyncResult
from sqlalchemy import select

from bench.common import (
    POLL_S,
    BenchError,
    Cluster,
    Report,
    Summary,
    alternate,
    cluster,
    main,
    parser,
    round_trip_s,
    step,
)
from bench.noop_tasks import RAW_SHAPE, SKILL_SHAPE, daily_sync_canvas
from organism import store
from organism.settings import ORGANS
from organism.store.models import Node, Run, utcnow
from organism.workflows import tracking
from organism.workflows.queries import find_run
from organism.workflows.start import start
from tasks.samples import SAMPLE_SOURCES

MODULES = ["bench.noop_tasks", "tests.support.noop"]
NOOP_SYNC = "noop-sync"  # tests/support/noop.py
RUN_TIMEOUT_S = 30
WINDOW = {"start": "2026-11-19T06:00:00+08:00", "end": "2026-11-20T06:00:00+08:00"}  # the no-op scans ignore it
TRACKING_SAMPLES = 50
LABELS = {"stock": "stock Celery canvas (SQLite, 1 s polling, chord_unlock)", "raw": "raw canvas",
          "skills": "skills, no run (nothing stored)", "organism": "Organism run (start + tracking)"}


def run_day(i: int) -> date:
    """A distinct date per run, far from real runs: run keys are unique per date."""
    return date(2000, 1, 1) + timedelta(days=i)


def canvas_s(app: Celery, shape: tuple[str, ...], sources: list[str], publish_s: list[float]) -> float:
    """Seconds from sending an untracked Daily-Sync-shaped canvas to holding its last result; the time
    ``apply_async`` itself took goes to ``publish_s``."""

    def send() -> AsyncResult:
        began = time.perf_counter()
        result = daily_sync_canvas(app, shape, sources, WINDOW, str(uuid.uuid4())).apply_async()
        publish_s.append(time.perf_counter() - began)
        return result

    return round_trip_s(send, RUN_TIMEOUT_S)


def organism_run_s(c: Cluster, day: int, start_s: list[float]) -> float:
    """Seconds from ``start()`` to holding the store node's result; the time ``start()`` itself took goes to
    ``start_s`` (the run's rows written, the canvas published)."""
    c.app.set_current()  # the workflow's builder takes skills from the current app
    began = time.perf_counter()
    started = start(c.app, NOOP_SYNC, {"date": run_day(day)})
    start_s.append(time.perf_counter() - began)
    run = find_run(c.settings.database, started.run_id)
    if run is None or not started.created:
        raise BenchError(f"run {started.key} was not created; is an old one left in {c.settings.database}?")
    last = next(n for n in run.nodes if n.name == "store")
    c.app.AsyncResult(last.task_id).get(timeout=RUN_TIMEOUT_S, interval=POLL_S)
    return time.perf_counter() - began


def check_runs(c: Cluster, expected: int) -> None:
    """Every run the benchmark started has succeeded (the store node's result alone does not say so)."""
    with store.session(c.settings.database) as s:
        statuses = Counter(s.scalars(select(Run.status).where(Run.key.like(f"{NOOP_SYNC}:%"))))
    if statuses != Counter({"succeeded": expected}):
        raise BenchError(f"expected {expected} succeeded runs, found {dict(statuses)}")


def tracking_s(c: Cluster) -> tuple[Summary, Summary]:
    """What a worker writes per node (``node_started``, ``node_succeeded``) timed here, on the same store."""
    url, run_id, task_id = c.settings.database, str(uuid.uuid4()), str(uuid.uuid4())
    with store.session(url) as s:
        s.add(Run(id=run_id, key=f"bench-tracking:{run_id}", workflow="bench",
                  params={}, deadline_at=utcnow() + timedelta(minutes=5)))
        s.flush()
        s.add(Node(run_id=run_id, task_id=task_id, name="n", phase=0, phase_name="p", skill="s", organ="o"))

    def timed(write: Callable[[], None]) -> Callable[[int], float]:
        def once(_: int) -> float:
            began = time.perf_counter()
            write()
            return time.perf_counter() - began
        return once

    times = alternate({"started": timed(lambda: tracking.node_started(url, task_id, run_id)),
                       "succeeded": timed(lambda: tracking.node_succeeded(url, task_id, run_id, {"ok": 1}))},
                      TRACKING_SAMPLES)
    return Summary.of(times["started"]), Summary.of(times["succeeded"])


def measure_profile(report: Report, profile: str) -> None:
    args = report.args
    with cluster(profile, MODULES, list(ORGANS)) as c:
        sources = list(SAMPLE_SOURCES)
        days = itertools.count()  # run keys are unique per day
        start_s: list[float] = []
        publish_s: list[float] = []
        variants: dict[str, Callable[[int], float]] = {
            "raw": lambda _: canvas_s(c.app, RAW_SHAPE, sources, publish_s),
            "skills": lambda _: canvas_s(c.app, SKILL_SHAPE, sources, []),
            "organism": lambda _: organism_run_s(c, next(days), start_s),
        }
        step(f"{profile}: warming up")
        alternate(variants, 2)
        stock = cluster(profile, MODULES, list(ORGANS), stock=True) if profile == "embedded" else None
        with stock or nullcontext() as s:
            if s is not None:
                variants = {"stock": lambda _: canvas_s(s.app, RAW_SHAPE, sources, []), **variants}
                alternate({"stock": variants["stock"]}, 1)
            step(f"{profile}: {args.runs} runs per variant" + (f", {args.stock_runs} stock" if s else ""))
            del start_s[:], publish_s[:]  # the warm-up's
            times = alternate(variants, args.runs, {"stock": args.stock_runs})
        check_runs(c, next(days))
        started, succeeded = tracking_s(c)
    lat = {name: Summary.of(seconds) for name, seconds in times.items()}
    base = lat["raw"]
    report.table(
        f"Daily Sync shape, no-op bodies, {profile} profile ({c.settings.broker.split(':')[0]} broker, "
        f"{c.settings.database.split(':')[0]} store)",
        ["variant", "runs", "p50 (ms)", "p95 (ms)", "mean (ms)", "p50 vs raw canvas"],
        [[LABELS[name], s.n, s.p50_ms, s.p95_ms, s.mean_ms, f"{s.p50_ms / base.p50_ms:.2f}x"]
         for name, s in lat.items()],
        note="Variants alternate run by run on the same workers (the stock canvas on its own workers).",
        samples={name: seconds for name, seconds in times.items()} | {"start() s": start_s, "publish s": publish_s})
    begin, publish = Summary.of(start_s), Summary.of(publish_s)
    report.table(
        f"Where an Organism run's time goes, {profile} profile (store writes timed in the benchmark process)",
        ["part", "p50 (ms)", "p95 (ms)"],
        [["raw canvas: apply_async (publish)", publish.p50_ms, publish.p95_ms],
         ["Organism start(): run and node rows written, canvas published", begin.p50_ms, begin.p95_ms],
         ["node_started (per node, by the worker's writer thread, off the path)", started.p50_ms, started.p95_ms],
         ["node_succeeded (per node, likewise; a node under 0.1 s writes only this, with its start)",
          succeeded.p50_ms, succeeded.p95_ms],
         ["Organism run minus skills without a run (p50)", lat["organism"].p50_ms - lat["skills"].p50_ms, ""],
         ["skills without a run minus raw canvas (p50)", lat["skills"].p50_ms - base.p50_ms, ""]])
    organism = lat["organism"]
    ratio = f"{organism.p50_ms / base.p50_ms:.2f}x"
    if profile == "embedded":
        rows = [["embedded: Organism run p50 <= 1 s", f"{organism.p50_ms:.0f} ms",
                 "yes" if organism.p50_ms <= 1000 else "NO"],
                ["(reference) Organism run p50 vs stock SQLite canvas", f"{organism.p50_ms / lat['stock'].p50_ms:.2f}x",
                 "-"],
                ["(reference) Organism run p50 vs raw canvas on the same workers", ratio, "-"]]
    else:
        rows = [[f"{profile}: Organism run p50 <= 1.5x raw canvas", ratio,
                 "yes" if organism.p50_ms <= 1.5 * base.p50_ms else "NO"]]
    report.table(f"Daily Sync targets, {profile} profile", ["target", "measured", "met"], rows)


def measure(report: Report) -> None:
    for profile in ("production", "embedded") if report.args.profile == "all" else (report.args.profile,):
        measure_profile(report, profile)


def arguments() -> argparse.Namespace:
    p = parser(__doc__.split("\n")[0])
    p.add_argument("--profile", choices=("all", "production", "embedded"), default="all",
                   help="production (RabbitMQ, Redis, PostgreSQL), embedded (SQLite), or all (default)")
    p.add_argument("--runs", type=int, default=30, help="runs per variant (default 30)")
    p.add_argument("--stock-runs", type=int, default=5, help="runs of the stock SQLite canvas (default 5)")
    return p.parse_args()


if __name__ == "__main__":
    raise SystemExit(main("bench.daily_sync", arguments(), measure))
