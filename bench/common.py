"""What the benchmarks share: one profile's services, app and worker processes; timing; statistics; tables.

A benchmark runs inside :func:`cluster`, which points ``ORGANISM_*`` at this machine's services (Redis
databases 14 and 15, PostgreSQL database ``test``, a temporary data directory), checks that they answer,
empties the queues, starts one worker process per organ, waits until each one runs a task, and stops them and
removes the directory on the way out.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from types import FrameType
from typing import Any

import celery
import redis
from celery import Celery
from celery.backends.database import DatabaseBackend
from celery.exceptions import TimeoutError as ResultTimeout
from celery.result import AsyncResult
from sqlalchemy import delete, inspect

from bench.noop_tasks import RAW
from organism import store
from organism.cli.doctor import check_broker, check_results, check_store
from organism.local import LocalWorkers, worker_command
from organism.settings import Settings, get_settings, load, masked
from organism.store.db import engine_for
from organism.store.models import Base, Run

ROOT = Path(__file__).resolve().parents[1]
# A vhost of its own, so that purging the organ queues never touches anyone else's messages.
RABBITMQ_VHOST = "organism_bench"
RABBITMQ_URL = f"amqp://guest:guest@127.0.0.1:5672/{RABBITMQ_VHOST}"
REDIS_BROKER_URL = "redis://127.0.0.1:6379/14"
REDIS_RESULTS_URL = "redis://127.0.0.1:6379/15"
POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PROFILES = ("production", "redis", "embedded")
# How often a database result backend is polled while waiting (Celery's default is 0.5 s, which would
# measure the poll, not the task). The Redis backend pushes results and ignores it.
POLL_S = 0.01
READY_TIMEOUT_S = 60
BUSY = 0.25  # CPU busy fraction before the start above which the figures are flagged as noisy


_BEGAN = time.monotonic()


def step(message: str) -> None:
    """Progress on stderr, so stdout stays the report."""
    print(f"[{time.monotonic() - _BEGAN:6.1f}s] {message}", file=sys.stderr, flush=True)


class BenchError(Exception):
    """The benchmark cannot go on; the message says why. Exit status 1."""


class ServiceDown(BenchError):
    """A service the profile needs does not answer. Exit status 2."""


def profile_env(profile: str, data_dir: Path, modules: list[str], vhost: str = RABBITMQ_VHOST) -> dict[str, str]:
    """The environment of the benchmark and its workers: ``profile`` on the benchmark's own databases (on
    RabbitMQ, in ``vhost``).

    It names an empty settings file, so a ``config/organism.toml`` in the working directory changes nothing.
    """
    settings_file = data_dir / "organism.toml"
    settings_file.touch()
    env = {"ORGANISM_PROFILE": profile, "ORGANISM_DATA_DIR": str(data_dir),
           "ORGANISM_CONFIG_FILE": str(settings_file),
           "ORGANISM_TASK_MODULES": json.dumps(modules),
           "ORGANISM_WORKERS__PERCEPTION__CONCURRENCY": "2",
           "PYTHONPATH": str(ROOT)}
    if profile == "production":
        env |= {"ORGANISM_BROKER_URL": RABBITMQ_URL.replace(RABBITMQ_VHOST, vhost),
                "ORGANISM_RESULT_BACKEND": REDIS_RESULTS_URL,
                "ORGANISM_DATABASE_URL": POSTGRES_URL}
    elif profile == "redis":
        env |= {"ORGANISM_BROKER_URL": REDIS_BROKER_URL, "ORGANISM_RESULT_BACKEND": REDIS_RESULTS_URL,
                "ORGANISM_DATABASE_URL": POSTGRES_URL}
    return env


@dataclass
class Cluster:
    """One profile's app in this process and its worker processes, one per organ."""

    profile: str
    app: Celery
    settings: Settings
    workers: LocalWorkers


def _check_services(settings: Settings) -> None:
    if settings.broker.startswith(RABBITMQ_URL.removesuffix(RABBITMQ_VHOST)):
        _ensure_vhost(settings.broker.rsplit("/", 1)[1])
    for check in (check_broker(settings), check_results(settings)):
        if not check.ok:
            raise ServiceDown(check.line())


def _ensure_vhost(vhost: str) -> None:
    """Create a benchmark's RabbitMQ vhost if it is missing (as the tests do for theirs)."""
    command = ["rabbitmqctl", "-q", "list_vhosts"]
    try:
        listed = subprocess.run(command, capture_output=True, text=True, timeout=30, check=True).stdout
        if vhost in listed.split():
            return
        subprocess.run(["rabbitmqctl", "-q", "add_vhost", vhost], capture_output=True, timeout=30, check=True)
        subprocess.run(["rabbitmqctl", "-q", "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"],
                       capture_output=True, timeout=30, check=True)
    except (OSError, subprocess.SubprocessError) as error:
        raise ServiceDown(f"could not make the RabbitMQ vhost {vhost} ({error}); is RabbitMQ running "
                          f"(scripts/services)? Or create it: rabbitmqctl add_vhost {vhost} && "
                          f"rabbitmqctl set_permissions -p {vhost} guest '.*' '.*' '.*'") from None


def _prepare_store(settings: Settings) -> None:
    """Migrate the store (idempotent) and drop the runs an earlier benchmark left."""
    try:
        store.migrate(settings.database)
    except Exception as error:
        check = check_store(settings)
        raise ServiceDown(check.line() if not check.ok else f"migrating {settings.database}: {error}") from None
    with engine_for(settings.database).connect() as connection:
        found = inspect(connection)
        missing = [f"{table.name}.{column.name}" for table in Base.metadata.sorted_tables
                   if found.has_table(table.name)
                   for column in table.columns if column.name not in {c["name"] for c in found.get_columns(table.name)}]
    if missing:
        raise BenchError(f"the store at {settings.database} is at the newest revision but lacks "
                         f"{', '.join(missing)}: a migration was changed after it was applied there")
    with store.session(settings.database) as s:
        s.execute(delete(Run).where(Run.key.like("bench-%") | Run.key.like("noop-sync:%")))


def _empty_queues(app: Celery, settings: Settings, organs: list[str], check: bool = True,
                  flush: bool = True) -> None:
    """Empty the app's queues; with ``check``, refuse to share a RabbitMQ queue with other workers; with
    ``flush``, empty the benchmark's Redis databases (which would break a cluster already running on them)."""
    if check and settings.broker.startswith("amqp"):
        with app.connection_for_write() as connection:
            for organ in organs:
                try:
                    _, messages, consumers = connection.channel().queue_declare(organ, passive=True)
                except Exception:
                    continue  # not declared yet: nobody consumes it
                if consumers:
                    raise BenchError(f"queue {organ!r} on {masked(settings.broker)} has {consumers} consumer(s) this "
                                     "benchmark did not start; stop them (they would take its messages)")
                if messages:
                    print(f"note: purging {messages} stale message(s) from queue {organ!r}", file=sys.stderr)
        app.control.purge()
    if flush:
        for url in (settings.broker, settings.results):
            if url.startswith("redis://"):
                redis.Redis.from_url(url).flushdb()


class BenchWorkers(LocalWorkers):
    """:class:`LocalWorkers` with ``processes`` worker processes per organ, each with its own broker connection,
    and optionally a Celery app other than ``organism.app`` (``app_module``: the stock app, or Organism's with
    the levers of ``bench.lever_app`` pulled).

    A queue that is not an organ's (the stock queue) gets the first organ's concurrency, which it stands in for.
    A second or later process of an organ is known as ``<organ>-<n>`` (its log, :meth:`dead`). ``pool``, if given,
    replaces the pool options the settings give (``-P``, ``-c``, ``--prefetch-multiplier`` and limits): a stock
    worker on a pool of the benchmark's choosing.
    """

    def __init__(self, settings: Settings, env: dict[str, str], log_dir: Path, organs: list[str],
                 app_module: str | None = None, processes: int = 1, pool: list[str] | None = None) -> None:
        super().__init__(settings, env=env, log_dir=log_dir, organs=organs)
        self.app_module = app_module
        self.copies = processes
        self.pool = pool

    def start(self, organ: str) -> subprocess.Popen[bytes]:
        first = None
        for n in range(1, self.copies + 1):
            process = self.start_one(organ if n == 1 else f"{organ}-{n}", organ)
            first = first or process
        assert first is not None
        return first

    def start_one(self, key: str, organ: str) -> subprocess.Popen[bytes]:
        """Start one process serving ``organ``, known as ``key``."""
        log = (self.log_dir / f"worker-{key}.log").open("ab")
        process = subprocess.Popen(self.command(key, organ), env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        self.processes[key] = process
        return process

    def command(self, key: str, organ: str) -> list[str]:
        first = self.settings.organs[0]
        concurrency = None if organ in self.settings.organs else self.settings.worker(first).concurrency
        command = worker_command(self.settings, [organ], concurrency, name=key)
        if self.app_module:
            command[command.index("-A") + 1] = self.app_module
        if self.pool is not None:
            command[command.index("-P"):command.index("--loglevel")] = self.pool
        return command


def _wait_ready(app: Celery, workers: LocalWorkers, organs: list[str]) -> None:
    """Wait until every organ's worker has run a task (it consumes its queue and has imported everything), and
    every worker process has said it is ready."""
    pending = {organ: app.tasks[RAW].apply_async(queue=organ) for organ in organs}
    deadline = time.monotonic() + READY_TIMEOUT_S
    while pending:
        dead = workers.dead()
        if dead:
            raise BenchError(f"the {dead[0]} worker exited; its log:\n{workers.log_tail(dead[0])}")
        if time.monotonic() > deadline:
            organ = next(iter(pending))
            raise BenchError(f"the {organ} worker ran nothing within {READY_TIMEOUT_S}s; its log:\n"
                             f"{workers.log_tail(organ)}")
        for organ, result in list(pending.items()):
            if result.ready():
                result.get(timeout=1)
                del pending[organ]
        time.sleep(0.05)
    _wait_logs(workers, " ready.")


def _wait_logs(workers: LocalWorkers, marker: str, count: int = 1) -> None:
    """Wait until every worker process's log holds ``marker`` ``count`` times (what it prints once it consumes)."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    for key in workers.processes:
        while workers.log_tail(key, 10_000).count(marker) < count:
            if workers.dead() or time.monotonic() > deadline:
                raise BenchError(f"worker process {key} did not get ready within {READY_TIMEOUT_S}s; its log:\n"
                                 f"{workers.log_tail(key)}")
            time.sleep(0.05)


@contextmanager
def _organism_environment(env: Mapping[str, str]) -> Iterator[None]:
    """``env`` as this process's only ``ORGANISM_*`` variables while the block runs (the benchmark's settings are
    exactly these, not what an earlier one set), then the earlier ones again: a cluster started and stopped inside
    another leaves the outer one's settings in force."""

    def put(variables: Mapping[str, str]) -> None:
        for name in [name for name in os.environ if name.startswith("ORGANISM_")]:
            del os.environ[name]
        os.environ.update(variables)
        get_settings.cache_clear()  # @skill reads the process-wide settings

    earlier = {name: value for name, value in os.environ.items() if name.startswith("ORGANISM_")}
    put(env)
    try:
        yield
    finally:
        put(earlier)


@contextmanager
def cluster(profile: str, modules: list[str], organs: list[str], stock: bool = False,
            with_store: bool = True, extra_env: Mapping[str, str] | None = None, vhost: str = RABBITMQ_VHOST,
            app_module: str | None = None, processes: int = 1, pool: list[str] | None = None) -> Iterator[Cluster]:
    """Services checked, queues empty, store migrated, workers up; everything stopped and removed afterwards.

    With ``stock`` the app and workers are :mod:`bench.stock_app` (raw Celery with its defaults); a stock
    cluster runs inside an Organism cluster of the same profile, which owns the Redis databases. Without
    ``with_store`` the store is neither needed nor touched. ``extra_env`` adds to the profile's environment (in
    this process and the workers'), ``vhost`` names the RabbitMQ vhost, ``app_module`` the workers' ``-A`` app,
    ``processes`` how many worker processes serve each organ and ``pool`` their pool options, if not the
    settings' (see :class:`BenchWorkers`).
    """
    with tempfile.TemporaryDirectory(prefix=f"organism-bench-{profile}-") as tmp, ExitStack() as restore:
        env = profile_env(profile, Path(tmp), modules, vhost) | dict(extra_env or {})
        restore.enter_context(_organism_environment(env))
        settings = load()
        step(f"{profile}: checking {masked(settings.broker)}, {masked(settings.results)}")
        _check_services(settings)
        if stock:
            from bench.stock_app import create

            app = create(settings)
        else:
            from organism.app import create_app

            app = create_app(settings)
        with_store = with_store and not stock
        if with_store:
            _prepare_store(settings)
        app.loader.import_default_modules()
        _empty_queues(app, settings, organs, flush=not stock)
        if isinstance(app.backend, DatabaseBackend):
            app.backend.ResultSession().close()  # creates its tables here, not racing in four workers
        workers = BenchWorkers(settings, env=env, log_dir=Path(tmp) / "logs", organs=organs,
                               app_module="bench.stock_app" if stock else app_module, processes=processes,
                               pool=pool)
        step(f"{profile}: starting {'stock ' if stock else ''}workers for {', '.join(organs)}")
        try:
            with workers:
                try:
                    _wait_ready(app, workers, organs)
                    step(f"{profile}: workers ready")
                    yield Cluster(profile, app, settings, workers)
                except BaseException:
                    for organ in organs:
                        step(f"last lines of the {organ} worker's log:\n{workers.log_tail(organ, 8)}")
                    raise
        finally:
            if with_store:
                _prepare_store(settings)
            _empty_queues(app, settings, organs, check=False, flush=not stock)


class DramatiqWorkers(BenchWorkers):
    """Dramatiq's own worker command on :mod:`bench.dramatiq_app`'s queue: ``processes`` processes (each with its
    own connection) of ``threads`` threads, importing ``modules`` too (more actors on that broker)."""

    def __init__(self, settings: Settings, env: dict[str, str], log_dir: Path, processes: int, threads: int,
                 modules: tuple[str, ...] = ()) -> None:
        from bench.dramatiq_app import QUEUE

        super().__init__(settings, env=env, log_dir=log_dir, organs=[QUEUE], processes=processes)
        self.threads = threads
        self.modules = modules

    def start(self, organ: str) -> subprocess.Popen[bytes]:
        return self.start_one(organ, organ)

    def command(self, key: str, organ: str) -> list[str]:
        return [sys.executable, "-m", "dramatiq", "bench.dramatiq_app", *self.modules, "--processes", str(self.copies),
                "--threads", str(self.threads), "--queues", organ]


@dataclass
class DramatiqPeer:
    """Dramatiq's no-op actor in this process, and its worker processes."""

    actor: Any  # dramatiq.Actor: the bench extra is imported only by the benchmarks that compare with Dramatiq
    workers: DramatiqWorkers


@contextmanager
def dramatiq_cluster(within: Cluster, processes: int, threads: int = 1,
                     modules: tuple[str, ...] = ()) -> Iterator[DramatiqPeer]:
    """Dramatiq (:mod:`bench.dramatiq_app`) on the broker and result database of the Organism cluster ``within``,
    ``processes`` x ``threads`` workers (importing ``modules`` too); its queues emptied before and after."""
    try:
        from bench import dramatiq_app
    except ImportError as error:
        raise BenchError(f"Dramatiq is not installed ({error}); it is a benchmark-only dependency: "
                         ".venv/bin/pip install -e '.[bench]'") from None
    actor = dramatiq_app.create(within.settings)
    dramatiq_app.empty(actor)
    step(f"{within.profile}: starting Dramatiq workers ({processes} processes x {threads} thread)")
    with tempfile.TemporaryDirectory(prefix="organism-bench-dramatiq-") as tmp:
        workers = DramatiqWorkers(within.settings, env=within.workers.env, log_dir=Path(tmp) / "logs",
                                  processes=processes, threads=threads, modules=modules)
        try:
            with workers:
                try:
                    actor.send(0).get_result(block=True, timeout=READY_TIMEOUT_S * 1000)
                    _wait_logs(workers, "Worker process is ready for action.", processes)
                    step(f"{within.profile}: Dramatiq workers ready")
                    yield DramatiqPeer(actor, workers)
                except BaseException:
                    step(f"last lines of the Dramatiq workers' log:\n{workers.log_tail(dramatiq_app.QUEUE, 8)}")
                    raise
        finally:
            dramatiq_app.empty(actor)
            actor.broker.close()


# -- timing ---------------------------------------------------------------------------------------------------

def alternate(measures: dict[str, Callable[[int], float]], count: int,
              fewer: Mapping[str, int] | None = None) -> dict[str, list[float]]:
    """Run each measure ``count`` times, alternating the order (AB BA AB ...) so drift hits all alike.

    Each measure gets the iteration number (a distinct run date, say) and returns one figure. A measure named
    in ``fewer`` runs that many times instead, spread evenly over the iterations.
    """
    names = list(measures)
    figures: dict[str, list[float]] = {name: [] for name in names}
    for i in range(count):
        for name in names if i % 2 == 0 else reversed(names):
            times = min(count, (fewer or {}).get(name, count))
            if i * times % count < times:
                figures[name].append(measures[name](i))
    return figures


# -- CPU ------------------------------------------------------------------------------------------------------

_TICK_S = 1 / os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 0.01
SERVICES = ("beam.smp", "redis-server")  # RabbitMQ's and Redis's processes: what the brokers and results cost


def cpu_s(pids: list[int]) -> float:
    """CPU seconds (user and system) the processes ``pids`` have spent so far (Linux /proc; gone ones count 0)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total * _TICK_S


def process_tree(pids: list[int]) -> list[int]:
    """``pids`` and all their descendants (a worker's pool processes, Dramatiq's worker processes)."""
    found, todo = [], list(pids)
    while todo:
        pid = todo.pop()
        found.append(pid)
        for task in Path(f"/proc/{pid}/task").glob("*") if Path(f"/proc/{pid}/task").exists() else ():
            try:
                todo += [int(child) for child in (task / "children").read_text().split()]
            except OSError:
                continue
    return found


def service_pids() -> list[int]:
    """The processes of this machine's RabbitMQ and Redis."""
    pids = []
    for comm in Path("/proc").glob("[0-9]*/comm"):
        try:
            if comm.read_text().strip() in SERVICES:
                pids.append(int(comm.parent.name))
        except OSError:
            continue
    return pids


def metered(measure: Callable[[int], float], parts: Mapping[str, Callable[[], list[int]]],
            used: dict[str, float]) -> Callable[[int], float]:
    """``measure``, also adding the CPU seconds each part's processes spend during it to ``used[part]``.

    CPU time is what two cores run out of first, so it shows a system's cost per call even when other processes
    on the machine make its throughput noisy.
    """

    def run(iteration: int) -> float:
        pids = {name: find() for name, find in parts.items()}
        before = {name: cpu_s(found) for name, found in pids.items()}
        figure = measure(iteration)
        for name, found in pids.items():
            used[name] = used.get(name, 0.0) + cpu_s(found) - before[name]
        return figure

    return run


def round_trip_s(send: Callable[[], AsyncResult], timeout_s: float = 30) -> float:
    """Seconds from sending a call (or canvas) to holding its (last) result."""
    began = time.perf_counter()
    # follow_parents=False: a chain's result would otherwise re-read its parents' states at every poll.
    send().get(timeout=timeout_s, interval=POLL_S, follow_parents=False)
    return time.perf_counter() - began


@dataclass(frozen=True)
class Summary:
    """Latency figures in milliseconds."""

    n: int
    p50_ms: float
    p95_ms: float
    mean_ms: float

    @classmethod
    def of(cls, seconds: list[float]) -> Summary:
        ms = sorted(s * 1000 for s in seconds)
        p95 = statistics.quantiles(ms, n=20, method="inclusive")[18] if len(ms) > 1 else ms[0]
        return cls(len(ms), statistics.median(ms), p95, statistics.fmean(ms))


# -- output ---------------------------------------------------------------------------------------------------

@dataclass
class Report:
    """Tables as Markdown on stdout, and the same figures as JSON on request."""

    benchmark: str
    args: argparse.Namespace
    tables: list[dict[str, Any]] = field(default_factory=list)

    def header(self) -> None:
        python = os.path.relpath(sys.executable, ROOT) if sys.executable.startswith(str(ROOT)) else sys.executable
        print(f"command: {shlex.join([python, '-m', self.benchmark, *sys.argv[1:]])}")
        busy = cpu_busy()
        waited = time.monotonic()
        while busy > BUSY and time.monotonic() - waited < self.args.wait_quiet:
            busy = cpu_busy()
        print(f"date: {date.today().isoformat()}  cores: {os.cpu_count()}  CPU busy before start: {busy:.0%}  "
              f"celery: {celery.__version__}")
        if busy > BUSY:
            print(f"warning: other processes kept the CPUs {busy:.0%} busy before the benchmark started; "
                  "its figures will be noisy", file=sys.stderr)

    def table(self, title: str, columns: list[str], rows: list[list[Any]], note: str = "",
              samples: dict[str, list[float]] | None = None) -> None:
        """Print a Markdown table; ``samples`` (the raw figures behind it) go to the JSON only."""
        self.tables.append({"title": title, "columns": columns, "rows": rows, "note": note,
                            "samples": samples or {}})
        print(f"\n### {title}\n")
        print("| " + " | ".join(columns) + " |")
        print("|" + "|".join("---" if i == 0 else "---:" for i in range(len(columns))) + "|")
        for row in rows:
            print("| " + " | ".join(_cell(value) for value in row) + " |")
        if note:
            print(f"\n{note}")

    def save(self) -> None:
        if self.args.json:
            Path(self.args.json).write_text(json.dumps(
                {"benchmark": self.benchmark, "argv": sys.argv[1:], "date": date.today().isoformat(),
                 "tables": self.tables}, indent=2, default=_json_default) + "\n")


def cpu_busy(window_s: float = 1.0) -> float:
    """The fraction of all CPU time that was busy over ``window_s`` (Linux /proc/stat; 0 elsewhere)."""

    def sample() -> tuple[int, int]:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return fields[3] + fields[4], sum(fields)  # idle + iowait, total

    try:
        idle0, total0 = sample()
        time.sleep(window_s)
        idle1, total1 = sample()
    except OSError:
        return 0.0
    return 1 - (idle1 - idle0) / max(1, total1 - total0)


def _cell(value: Any) -> str:
    return f"{value:,.1f}" if isinstance(value, float) else str(value)


def _json_default(value: Any) -> Any:
    return asdict(value) if isinstance(value, Summary) else str(value)


def parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--json", metavar="PATH", help="also write the figures to PATH as JSON")
    parser.add_argument("--time-limit", type=float, default=180, metavar="S",
                        help="give up (and stop the workers) after S seconds (default 180)")
    parser.add_argument("--wait-quiet", type=float, default=0, metavar="S",
                        help="first wait up to S seconds for other processes to leave the CPUs idle (default 0)")
    return parser


def main(benchmark: str, args: argparse.Namespace, body: Callable[[Report], None]) -> int:
    """Run ``body`` under the time limit; a :class:`BenchError` becomes a one-paragraph message and exit 1/2."""

    def expired(_signum: int, _frame: FrameType | None) -> None:
        raise BenchError(f"time limit of {args.time_limit:.0f}s exceeded (--time-limit)")

    def stopped(_signum: int, _frame: FrameType | None) -> None:
        raise BenchError("stopped by SIGTERM")  # unwinds the clusters: their worker processes are stopped too

    signal.signal(signal.SIGALRM, expired)
    signal.signal(signal.SIGTERM, stopped)
    signal.setitimer(signal.ITIMER_REAL, args.time_limit)
    report = Report(benchmark, args)
    report.header()
    try:
        body(report)
    except BenchError as error:
        print(f"\n{benchmark}: {error}", file=sys.stderr)
        return 2 if isinstance(error, ServiceDown) else 1
    except ResultTimeout:
        print(f"\n{benchmark}: a result did not arrive in time: did a worker or a service stop or restart "
              "meanwhile? (The workers' last log lines are above.)", file=sys.stderr)
        return 1
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    report.save()
    return 0
