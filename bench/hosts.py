"""Throughput of an I/O-bound burst served by one, two and three simulated hosts.

Three hosts are built as the tests in tests/hosts build them (tests/support/hosts.py): Linux network namespaces
whose processes reach this machine's RabbitMQ, Redis and PostgreSQL only through their own socat bridges. Each
host runs one worker of the relationship organ, a threads pool of 4 with prefetch 1, on the production profile (a
RabbitMQ vhost and a PostgreSQL database of the benchmark's own, made and dropped here; results in Redis).

A burst is N calls of ``test.hosts.call`` (tests/hosts/workload.py) sent at once: each waits 20-50 ms (35 ms on
average), then writes its rows (one when it starts; its effect, upserted by call id, and its execution in one
transaction when it ends). Throughput is calls per second from the first send to the last result. To measure k
hosts, the workers of the other hosts stop consuming the organ's queue (Celery's ``cancel_consumer``; they stay up,
idle) and the queue's consumer count is checked before the burst. The host counts alternate (1 2 3 3 2 1 ...), so
drift hits them all alike.

    .venv/bin/python -m bench.hosts
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections import Counter
from functools import partial
from pathlib import Path

from celery import Celery
from celery.result import ResultSet

from bench.common import POLL_S, REDIS_RESULTS_URL, BenchError, Report, ServiceDown, alternate, main, parser, step
from organism import store
from organism.cli.doctor import check_broker, check_results, check_store
from organism.settings import get_settings, load
from organism.store.db import forget_engines
from tests.hosts import workload
from tests.support.hosts import SERVICE_PORTS, HostError, Hosts, require_tools
from tests.support.services import drop_pg_database, fresh_pg_database, own_rabbit_vhost

NAME = "organism_bench_hosts"  # the benchmark's RabbitMQ vhost and PostgreSQL database
BROKER_URL = f"amqp://guest:guest@127.0.0.1:5672/{NAME}"
DATABASE_URL = f"postgresql+psycopg://postgres@127.0.0.1:5432/{NAME}"
HOSTS = ["h1", "h2", "h3"]
WARMUP = 200
BURST_TIMEOUT_S = 120
CONSUMERS_TIMEOUT_S = 30


class Bursts:
    """Bursts of calls on the first k hosts; the calls each host served in each burst."""

    def __init__(self, app: Celery, hosts: Hosts, calls: int) -> None:
        self.app, self.hosts, self.calls = app, hosts, calls
        self.served: dict[int, list[Counter[str]]] = {}

    def serve(self, count: int) -> None:
        """Let the organ's workers on the first ``count`` hosts consume its queue, and the others not."""
        on, off = HOSTS[:count], HOSTS[count:]
        if off:
            self.app.control.cancel_consumer(workload.ORGAN, destination=self.hosts.worker_names([workload.ORGAN], off),
                                             reply=True)
        self.app.control.add_consumer(workload.ORGAN, destination=self.hosts.worker_names([workload.ORGAN], on),
                                      reply=True)
        deadline = time.monotonic() + CONSUMERS_TIMEOUT_S
        while (consumers := self.consumers()) != count:
            if time.monotonic() > deadline:
                raise BenchError(f"the {workload.ORGAN} queue has {consumers} consumers, not {count}, after "
                                 f"{CONSUMERS_TIMEOUT_S}s")
            time.sleep(0.1)

    def consumers(self) -> int:
        with self.app.connection_for_write() as connection:
            return int(connection.default_channel.queue_declare(workload.ORGAN, passive=True).consumer_count)

    def seconds(self, count: int, calls: int, _iteration: int = 0) -> float:
        """Seconds from sending ``calls`` calls to holding every result, with ``count`` hosts serving."""
        workload.clear(DATABASE_URL)
        self.serve(count)
        began = time.perf_counter()
        sent = workload.burst(calls)
        ResultSet(list(sent.values()), app=self.app).get(timeout=BURST_TIMEOUT_S, interval=POLL_S)
        took = time.perf_counter() - began
        self.served.setdefault(count, []).append(workload.by_host(DATABASE_URL))
        return took


def _settings(data_dir: Path) -> None:
    """Point this process's settings at the benchmark's services (``@skill`` reads the process-wide ones)."""
    settings_file = data_dir / "organism.toml"
    settings_file.touch()  # a config/organism.toml in the working directory changes nothing
    for name in [name for name in os.environ if name.startswith("ORGANISM_")]:
        del os.environ[name]
    os.environ.update(workload.environment(BROKER_URL, REDIS_RESULTS_URL, DATABASE_URL)
                      | {"ORGANISM_DATA_DIR": str(data_dir), "ORGANISM_CONFIG_FILE": str(settings_file)})
    get_settings.cache_clear()


def measure(report: Report) -> None:
    args = report.args
    counts = list(range(1, len(HOSTS) + 1))
    try:
        require_tools()
    except HostError as error:
        raise BenchError(str(error)) from None
    with tempfile.TemporaryDirectory(prefix="organism-bench-hosts-") as tmp, own_rabbit_vhost(NAME, "bench.hosts"):
        fresh_pg_database(NAME)
        try:
            _settings(Path(tmp))
            settings = load()
            for check in (check_broker(settings), check_results(settings)):
                if not check.ok:
                    raise ServiceDown(check.line())
            try:
                store.migrate(DATABASE_URL)
            except Exception as error:
                raise ServiceDown(check_store(settings).line() if not check_store(settings).ok
                                  else f"migrating {DATABASE_URL}: {error}") from None
            workload.create_tables(DATABASE_URL)
            from organism.app import create_app  # here, once the settings are in place: it builds an app on import

            app = create_app(settings)
            app.set_current()
            app.set_default()
            step(f"starting {len(HOSTS)} hosts, a {workload.ORGAN} worker of {workload.SLOTS} threads on each")
            env = dict(os.environ)
            with Hosts(HOSTS, SERVICE_PORTS, settings, lambda host: env | {"ORGANISM_DATA_DIR": str(host.folder)},
                       [workload.ORGAN]) as hosts:
                hosts.ready(app)
                bursts = Bursts(app, hosts, args.calls)
                step(f"warming up: {WARMUP} calls on {len(HOSTS)} hosts")
                bursts.seconds(len(HOSTS), WARMUP)
                bursts.served.clear()
                step(f"{2 * args.rounds} bursts of {args.calls} calls per host count")
                figures = alternate({str(n): partial(bursts.seconds, n, args.calls) for n in counts}, 2 * args.rounds)
        except HostError as error:
            raise BenchError(str(error)) from None
        finally:
            forget_engines()
            drop_pg_database(NAME)
    pause_s = statistics.fmean(workload.pause_ms(i) for i in range(args.calls)) / 1000
    rate = {n: args.calls * len(figures[str(n)]) / sum(figures[str(n)]) for n in counts}
    rows = []
    for n in counts:
        seconds = figures[str(n)]
        shares = sum(bursts.served[n], Counter())
        rows.append([n, n * workload.SLOTS, rate[n], f"{args.calls / max(seconds):.0f}-{args.calls / min(seconds):.0f}",
                     f"{rate[n] / rate[1]:.2f}x", ", ".join(f"{h} {shares[h] / len(seconds):.0f}" for h in HOSTS[:n]),
                     n * workload.SLOTS / pause_s])
    report.table(
        f"An I/O-bound burst on 1, 2 and 3 simulated hosts, production profile: {2 * args.rounds} bursts of "
        f"{args.calls} calls per host count",
        ["hosts", "threads", "throughput (calls/s)", "bursts (calls/s)", "vs 1 host", "calls per host (mean)",
         "ceiling of the waits (calls/s)"],
        rows,
        note=f"Each call waits {pause_s * 1000:.0f} ms on average; the ceiling is threads / that wait, what the hosts "
             "would do if nothing but the waits took time. All hosts share this machine's two cores, the services "
             "and the sender.",
        samples={f"{n} hosts burst s": figures[str(n)] for n in counts})


def arguments() -> argparse.Namespace:
    p = parser(__doc__.split("\n")[0])
    p.add_argument("--calls", type=int, default=2000, help="calls per burst (default 2000)")
    p.add_argument("--rounds", type=int, default=2, help="bursts per host count, times two (default 2)")
    p.set_defaults(time_limit=600)
    return p.parse_args()


if __name__ == "__main__":
    raise SystemExit(main("bench.hosts", arguments(), measure))
