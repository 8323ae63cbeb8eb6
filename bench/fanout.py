"""Fan-out: a workflow maps a skill over N items, against the same fan-out in stock Celery and in Dramatiq.

For each size (1,000 and 10,000 items by default), with a no-op per item and then the total of every result:

* Organism: the workflow ``fanout`` (bench/fanout_tasks.py) maps a skill over the items in chunks of 100, a node of
  the run per chunk (organism.workflows.mapping); wall time from ``start()``, which writes the run and its nodes and
  then publishes the canvas, to the total's result. Also a node per item (chunk size 1), up to ``--per-item-up-to``
  items: what the chunks save;
* stock Celery (``bench.stock_app``): a chord of one task per item into a total, and Celery's own ``chunks`` of 100
  in a chord;
* Dramatiq (``bench.dramatiq_app``): a ``group`` of one message per item, every result awaited.

Every system runs the items in 2 slots: Organism's perception worker (2 prefork processes), a stock worker the same,
Dramatiq 2 processes x 1 thread; RabbitMQ, results in Redis, in a vhost (``organism_bench_fanout``) and a Redis
database (3) of the benchmark's own. The store writes are PostgreSQL's own counters (``pg_stat_user_tables``) in a
database of the benchmark's own, read once the run's workers have exited (which is when PostgreSQL counts their last
writes): each Organism run has a cluster of its own. Each system and size runs ``--rounds`` times (default 3); the
table shows the median run, and a second table how each grows from the smallest size to the largest.

    .venv/bin/python -m bench.fanout --items 1000,10000
"""

from __future__ import annotations

import argparse
import time
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, replace
from typing import Any

import psycopg
from celery import chord
from celery.result import AsyncResult
from sqlalchemy import select

from bench.common import (
    POLL_S,
    POSTGRES_URL,
    RABBITMQ_VHOST,
    BenchError,
    Cluster,
    Report,
    cluster,
    dramatiq_cluster,
    main,
    parser,
    step,
)
from bench.fanout_tasks import FANOUT, ORGAN, RAW_CHUNKS_TOTAL, RAW_ITEM, RAW_TOTAL
from bench.stock_app import STOCK_QUEUE
from organism import store
from organism.store.db import engine_for
from organism.store.models import Node, Run
from organism.workflows.start import start

MODULES = ["bench.noop_tasks", "bench.fanout_tasks"]
DATABASE = "organism_bench_fanout"
DATABASE_URL = f"{POSTGRES_URL.rsplit('/', 1)[0]}/{DATABASE}"
# A vhost and a result database of its own: other benchmarks may run on organism_bench and Redis 15 meanwhile.
VHOST = f"{RABBITMQ_VHOST}_fanout"
RESULTS = {"ORGANISM_RESULT_BACKEND": "redis://127.0.0.1:6379/3"}
TABLES = ("organism_runs", "organism_nodes")
SLOTS = 2
RESULT_TIMEOUT_S = 150


@dataclass(frozen=True)
class Writes:
    """Rows written to the store's run tables, by PostgreSQL's count."""

    inserted: int
    updated: int
    deleted: int
    transactions: int

    @property
    def rows(self) -> int:
        return self.inserted + self.updated + self.deleted

    def __sub__(self, other: Writes) -> Writes:
        return Writes(self.inserted - other.inserted, self.updated - other.updated, self.deleted - other.deleted,
                      self.transactions - other.transactions)


@dataclass(frozen=True)
class Outcome:
    system: str
    items: int
    messages: int
    wall_s: float
    writes: Writes | None = None
    nodes: int | None = None
    start_s: float | None = None
    walls: tuple[float, ...] = ()


@contextmanager
def own_database() -> Iterator[str]:
    """A fresh PostgreSQL database for the store, migrated; dropped afterwards."""
    admin = POSTGRES_URL.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        connection.execute(f"CREATE DATABASE {DATABASE}")
    try:
        store.migrate(DATABASE_URL)
        yield DATABASE_URL
    finally:
        engine_for(DATABASE_URL).dispose()
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")


def writes(url: str) -> Writes:
    """PostgreSQL's counts so far of rows written to the run tables and of transactions committed, once every
    connection of this process is closed (a server process counts its writes when its connection ends)."""
    engine_for(url).dispose()
    time.sleep(1.0)  # the closed connections' server processes finish counting
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as connection:
        rows = connection.execute("SELECT sum(n_tup_ins), sum(n_tup_upd), sum(n_tup_del) FROM pg_stat_user_tables "
                                  "WHERE relname = ANY(%s)", (list(TABLES),)).fetchone()
        committed = connection.execute("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
                                       ).fetchone()
    assert rows is not None and committed is not None
    return Writes(int(rows[0] or 0), int(rows[1] or 0), int(rows[2] or 0), int(committed[0]))


def store_cluster(profile: str, url: str) -> AbstractContextManager[Cluster]:
    """An Organism cluster whose store is ``url``."""
    return cluster(profile, MODULES, [ORGAN], extra_env=RESULTS | {"ORGANISM_DATABASE_URL": url}, vhost=VHOST)


def idle_writes(profile: str, url: str) -> Writes:
    """What a cluster that runs nothing writes to the store while it starts and stops (its checks)."""
    before = writes(url)
    with store_cluster(profile, url):
        step("Organism: a cluster that runs nothing, for the store's writes without a run")
    return writes(url) - before


def organism_map(profile: str, url: str, items: int, chunk_size: int, idle: Writes) -> Outcome:
    """Run the ``fanout`` workflow over ``items`` on a cluster of its own; its wall time and the store's writes
    (less ``idle``, what the cluster writes without a run)."""
    before = writes(url)
    with store_cluster(profile, url) as organism:
        step(f"Organism: {items} items in chunks of {chunk_size}")
        began = time.perf_counter()
        started = start(organism.app, FANOUT, {"items": items, "chunk_size": chunk_size, "tag": uuid.uuid4().hex})
        start_s = time.perf_counter() - began
        with store.session(url) as s:
            last = s.scalar(select(Node.task_id).where(Node.run_id == started.run_id, Node.name == "total"))
            nodes = len(s.scalars(select(Node.task_id).where(Node.run_id == started.run_id)).all())
        total = AsyncResult(last, app=organism.app).get(timeout=RESULT_TIMEOUT_S, interval=POLL_S)
        wall_s = time.perf_counter() - began
        _check(total, items)
        _wait_finished(url, started.run_id)
    return Outcome(f"Organism map, chunks of {chunk_size}", items, nodes + 1, wall_s, writes(url) - before - idle,
                   nodes, start_s)


def _wait_finished(url: str, run_id: str) -> None:
    """Wait until the run's own bookkeeping says it succeeded (the store is written off the tasks' path)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with store.session(url) as s:
            if s.scalar(select(Run.status).where(Run.id == run_id)) == "succeeded":
                return
        time.sleep(0.1)
    raise BenchError(f"run {run_id} did not record its success within 30 s of its last result")


def _check(total: dict[str, int], items: int) -> None:
    expected = {"count": items, "sum": items * (items - 1) // 2}
    if total != expected:
        raise BenchError(f"the fan-out's total is {total}, not {expected}: an item's result was lost")


def _total(result: AsyncResult) -> Any:
    """A chord's result. Without follow_parents=False, get() would read the state of every header task (the
    chord's parent group) at each poll: 10,000 reads from Redis every 10 ms, the waiting and not the chord timed."""
    return result.get(timeout=RESULT_TIMEOUT_S, interval=POLL_S, follow_parents=False)


def stock_chord(app: Any, items: int) -> Outcome:
    began = time.perf_counter()
    item = app.tasks[RAW_ITEM]
    total = chord([item.s(i) for i in range(items)])(app.tasks[RAW_TOTAL].s())
    _check(_total(total), items)
    return Outcome("stock Celery chord, a task per item", items, items + 1, time.perf_counter() - began)


def stock_chunks(app: Any, items: int, chunk_size: int) -> Outcome:
    began = time.perf_counter()
    parts = app.tasks[RAW_ITEM].chunks([(i,) for i in range(items)], chunk_size).group()
    total = chord(parts)(app.tasks[RAW_CHUNKS_TOTAL].s())
    _check(_total(total), items)
    return Outcome(f"stock Celery chord of chunks({chunk_size})", items, len(parts.tasks) + 1,
                   time.perf_counter() - began)


def dramatiq_group(actor: Any, items: int) -> Outcome:
    from dramatiq import group

    began = time.perf_counter()
    sent = group(actor.message(i) for i in range(items)).run()
    results = list(sent.get_results(block=True, timeout=RESULT_TIMEOUT_S * 1000))
    _check({"count": len(results), "sum": sum(results)}, items)
    return Outcome("Dramatiq group, a message per item", items, items, time.perf_counter() - began)


def median_of(runs: list[Outcome]) -> Outcome:
    """The run of median wall time among ``runs`` of one system and size, with every run's wall time."""
    ordered = sorted(runs, key=lambda o: o.wall_s)
    return replace(ordered[(len(ordered) - 1) // 2], walls=tuple(o.wall_s for o in runs))


def measure(report: Report) -> None:
    args = report.args
    sizes = sorted(int(n) for n in args.items.split(","))
    runs: list[Outcome] = []
    with own_database() as url:
        idle = idle_writes(args.profile, url)
        for items in sizes:
            for _ in range(args.rounds):
                runs.append(organism_map(args.profile, url, items, args.chunk_size, idle))
                if items <= args.per_item_up_to:
                    runs.append(organism_map(args.profile, url, items, 1, idle))
    with ExitStack() as running:
        host = running.enter_context(cluster(args.profile, MODULES, [ORGAN], with_store=False, extra_env=RESULTS,
                                             vhost=VHOST))
        stock = running.enter_context(cluster(args.profile, MODULES, [STOCK_QUEUE], stock=True, extra_env=RESULTS,
                                              vhost=VHOST))
        peer = running.enter_context(dramatiq_cluster(host, processes=SLOTS)) if args.dramatiq else None
        for items in sizes:
            for round_ in range(args.rounds):
                step(f"stock Celery and Dramatiq: {items} items, round {round_ + 1} of {args.rounds}")
                runs.append(stock_chord(stock.app, items))
                runs.append(stock_chunks(stock.app, items, args.chunk_size))
                if peer is not None:
                    runs.append(dramatiq_group(peer.actor, items))
    grouped: dict[tuple[str, int], list[Outcome]] = {}
    for run in runs:
        grouped.setdefault((run.system, run.items), []).append(run)
    outcomes = sorted((median_of(group) for group in grouped.values()), key=lambda o: o.items)
    report.table(
        f"Fan-out, {args.profile} profile: a no-op per item, then the total; {SLOTS} worker slots per system",
        ["system", "items", "messages", "wall (s)", "runs (s)", "of which start() (s)", "items/s", "run nodes",
         "run rows inserted / updated", "rows per 1k items", "store transactions"],
        [[o.system, f"{o.items:,}", f"{o.messages:,}", f"{o.wall_s:.2f}", f"{min(o.walls):.2f}-{max(o.walls):.2f}",
          "-" if o.start_s is None else f"{o.start_s:.2f}", f"{o.items / o.wall_s:,.0f}",
          "-" if o.nodes is None else f"{o.nodes:,}",
          f"{o.writes.inserted:,} / {o.writes.updated:,}" if o.writes else "none",
          f"{o.writes.rows * 1000 / o.items:,.1f}" if o.writes else "-",
          f"{o.writes.transactions:,}" if o.writes else "-"] for o in outcomes],
        note=f"Wall time: the median of {args.rounds} run(s) (runs: the fastest and the slowest), from the first "
             "publish (Organism: from start(), which first writes the run and its nodes) to the total's result; "
             "start() is the part until start() returns, the canvas published. Rows: PostgreSQL's n_tup_ins and "
             "n_tup_upd on organism_runs and organism_nodes (none deleted); store transactions: those committed in "
             "the store's database while that run's cluster was up, less the "
             f"{idle.transactions} of a cluster that ran nothing (its start-up and shut-down checks). Stock Celery "
             "and Dramatiq keep no run record: their results live in Redis only.",
        samples={f"{o.system} {o.items}": list(o.walls) for o in outcomes})
    if len(sizes) > 1:
        growth(report, outcomes, sizes[0], sizes[-1])


def growth(report: Report, outcomes: list[Outcome], small: int, large: int) -> None:
    """How each system's wall time and store writes grow from ``small`` to ``large`` items."""
    by = {(o.system, o.items): o for o in outcomes}
    rows = []
    for o in outcomes:
        if o.items != small or (o.system, large) not in by:
            continue
        big = by[(o.system, large)]
        rows.append([o.system, f"{big.wall_s / o.wall_s:.1f}x",
                     f"{big.writes.rows / o.writes.rows:.1f}x" if big.writes and o.writes else "-",
                     f"{big.writes.transactions / o.writes.transactions:.1f}x" if big.writes and o.writes else "-"])
    report.table(f"Growth from {small:,} to {large:,} items ({large / small:.0f}x the items)",
                 ["system", "wall time", "run rows written", "store transactions"], rows,
                 note=f"Linear bookkeeping grows {large / small:.0f}x or less. Wall times under a second include "
                      "fixed costs (publishing the canvas, the join) that a larger fan-out shares out.")


def arguments() -> argparse.Namespace:
    p = parser(__doc__.split("\n")[0])
    p.add_argument("--profile", choices=("production", "redis"), default="production")
    p.add_argument("--items", default="1000,10000", help="fan-out sizes, comma-separated (default 1000,10000)")
    p.add_argument("--chunk-size", type=int, default=100, help="items per chunk (default 100)")
    p.add_argument("--per-item-up-to", type=int, default=1000, metavar="N",
                   help="also run Organism with a node per item for sizes up to N (default 1000; 0: never)")
    p.add_argument("--rounds", type=int, default=3,
                   help="runs of each system and size; the table shows the median (default 3)")
    p.add_argument("--no-dramatiq", dest="dramatiq", action="store_false", help="leave Dramatiq out")
    p.set_defaults(time_limit=600)  # three rounds of a 10,000-task chord take minutes on two cores
    return p.parse_args()


if __name__ == "__main__":
    raise SystemExit(main("bench.fanout", arguments(), measure))
