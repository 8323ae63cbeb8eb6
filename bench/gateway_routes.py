"""The router's and the policies' share of ``bench.gateway`` (``--parts routes``), against fake model servers.

* policy evaluation: :meth:`Policies.decide` (the pure part, every call) in microseconds, and
  :meth:`Decision.check` (the ledger's counts, for a policy with a rate limit or daily tokens) over 1,000 ledger
  rows of the skill, inside an open transaction;
* the routing decision: :meth:`Route.order` (pure) per strategy, and :meth:`Router.choose` plus the permit's
  release (two transactions) for a route of one endpoint and of three, against the semaphore alone;
* calls per second through one endpoint and through two (weighted and least in flight), each endpoint allowing
  3 calls at once and answering in ``LATENCY_MS``, from ``PROCESSES`` processes.
"""

from __future__ import annotations

import functools
import multiprocessing
import time
import uuid
from collections.abc import Callable
from typing import Any

from bench.common import Report, step
from bench.gateway_support import acquire_release, clean, fake, percentile, timed_us
from devtools.fake_model import spawn
from organism import store
from organism.errors import Deferred
from organism.gateway import ledger
from organism.gateway.client import Gateway
from organism.gateway.prices import Price
from organism.gateway.provider import ChatResult, Usage
from organism.gateway.router import Blocked, Choice, Router
from organism.gateway.routes import Route
from organism.settings import Settings, load
from organism.store.db import forget_engines

SKILL = "q1p0.pain_scanner"
LATENCY_MS = 100
LIMIT = 3
PROCESSES = 6
LEDGER_ROWS = 1000
HELLO = [{"role": "user", "content": "hello"}]


def _endpoint(name: str, url: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "base_url": url, "model": "fake-model", "max_concurrency": LIMIT, **extra}


def routed(url: str, servers: list[str], strategy: str = "weighted", **gateway: Any) -> Settings:
    """A gateway on ``url`` whose route ``chat-default`` spreads over ``servers`` by ``strategy``."""
    endpoints = [_endpoint(f"e{i}", server) for i, server in enumerate(servers)]
    return load(database_url=url, gateway={"routes": {"chat-default": {"strategy": strategy, "endpoints": endpoints},
                                                      "bulk-cheap": {"endpoints": endpoints[:1]}}, **gateway})


def policy_costs(url: str, server: str, count: int) -> list[list[Any]]:
    """Microseconds of a policy decision, and of its ledger counts over the skill's rows."""
    policies = {"organ.perception": {"routes": ["chat-default", "bulk-cheap"], "max_tokens": 800},
                SKILL: {"requests_per_minute": 1_000_000, "daily_tokens": 10**12}}
    gateway = Gateway(routed(url, [server], policies=policies))
    with store.session(url) as s:
        for seq in range(LEDGER_ROWS):
            call = ledger.CallKey(uuid.uuid4().hex, 0, seq, SKILL, "perception", None, in_task=True)
            ledger.record(s, call, "e0", ChatResult("{}", Usage(1000, 200), "fake-model", 0.3), Price(1, 2),
                          "chat-default")
    decide = timed_us(lambda: gateway.policies.decide(SKILL, "perception", None, None), count)
    decision = gateway.policies.decide(SKILL, "perception", None, None)
    with store.session(url) as s:
        counted = timed_us(lambda: decision.check(s), count)
    return [["decide (routes, max tokens)", *_stats(decide)], ["ledger counts (rate, daily tokens)", *_stats(counted)]]


def order_costs(server: str, count: int) -> list[list[Any]]:
    """Microseconds of the pure order of three endpoints, per strategy."""
    rows = []
    for strategy in ("weighted", "least_in_flight", "failover"):
        route = Gateway(routed("sqlite://", [server] * 3, strategy)).routes.route("chat-default")
        rows.append([f"order, {strategy}", *_stats(timed_us(_ordering(route), count))])
    return rows


def _ordering(route: Route) -> Callable[[], object]:
    """The order of ``route``'s endpoints for the next turn, with 2, 0 and 1 calls in flight."""
    turns = iter(range(10**9))
    in_flight = {"e0": 2, "e1": 0, "e2": 1}
    return lambda: route.order(next(turns), in_flight)


def choose_costs(url: str, server: str, count: int) -> list[list[Any]]:
    """Milliseconds of a routing decision and the permit's release (a transaction each), against the semaphore."""
    rows = []
    single = Gateway(load(database_url=url, gateway={"base_url": server, "model": "fake-model"}))
    semaphore = single.routes.route("default").targets[0].semaphore

    alone = functools.partial(acquire_release, url, semaphore)
    rows.append(["semaphore alone (before routes)", *_stats(timed_us(alone, count), 1e-3)])
    for label, settings in (("route of 1 endpoint", load(database_url=url, gateway={"base_url": server,
                                                                                    "model": "fake-model"})),
                            ("weighted route of 3", routed(url, [server] * 3)),
                            ("least-in-flight route of 3", routed(url, [server] * 3, "least_in_flight"))):
        gateway = Gateway(settings)
        decide = functools.partial(_choose_release, url, gateway.routes.route(gateway.routes.default), Router())
        rows.append([label, *_stats(timed_us(decide, count), 1e-3)])
    return rows


def _choose_release(url: str, route: Route, router: Router) -> None:
    with store.session(url) as s:
        choice = router.choose(s, route, None, time.time())
    assert isinstance(choice, Choice), choice if isinstance(choice, Blocked) else "no permit"
    with store.session(url) as s:
        choice.target.semaphore.release(s, choice.lease)


def _calls(index: int, settings: Settings, count: int, start_at: float) -> None:
    forget_engines()
    gateway = Gateway(settings)
    time.sleep(max(0.0, start_at - time.time()))
    done = 0
    while done < count:
        try:
            gateway.chat([{"role": "user", "content": f"process {index} call {done}"}])
            done += 1
        except Deferred as waiting:
            time.sleep(waiting.wait_s)


def calls_per_s(settings: Settings, count: int) -> float:
    """Calls per second of ``PROCESSES`` processes making ``count`` calls each, started together."""
    context = multiprocessing.get_context("fork")
    start_at = time.time() + 1.0
    workers = [context.Process(target=_calls, args=(i, settings, count, start_at)) for i in range(PROCESSES)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return PROCESSES * count / (time.time() - start_at)


def throughput(url: str, servers: list[str], count: int) -> list[list[Any]]:
    """Calls per second through one endpoint and through two, with their requests by server."""
    rows = []
    for label, settings in (("1 endpoint", routed(url, servers[:1])), ("2 endpoints, weighted", routed(url, servers)),
                            ("2 endpoints, least in flight", routed(url, servers, "least_in_flight"))):
        clean(url)
        for server in servers:
            fake(server, "/reset", {})
            fake(server, "/control", {"latency_ms": LATENCY_MS})
        rate = calls_per_s(settings, count)
        rows.append([label, rate, " / ".join(str(fake(server, "/stats")["requests"]) for server in servers)])
    return rows


def _stats(samples: list[float], scale: float = 1.0) -> list[float]:
    return [percentile(samples, 0.5) * scale, percentile(samples, 0.99) * scale]


def measure(report: Report, urls: dict[str, str]) -> None:
    """The routing part of the gateway benchmark, on each store in ``urls``."""
    args = report.args
    spawned = [spawn() for _ in range(2)]
    servers = [url for _, url in spawned]
    try:
        policy, choose, rates = [], [], []
        step("routes: pure orders")
        orders = order_costs(servers[0], args.decisions)
        for name, url in urls.items():
            store.migrate(url)
            clean(url)
            step(f"{name}: policy evaluation")
            policy += [[name, *row] for row in policy_costs(url, servers[0], args.decisions)]
            clean(url)
            step(f"{name}: routing decisions")
            choose += [[name, *row] for row in choose_costs(url, servers[0], args.permits)]
            step(f"{name}: calls per second through one and two endpoints")
            rates += [[name, *row] for row in throughput(url, servers, args.route_calls // PROCESSES)]
            clean(url)
    finally:
        for process, _ in spawned:
            process.terminate()
            process.wait(10)
    report.table("Policy evaluation, one skill's policy merged from its organ's and its own",
                 ["store", "part", "p50 (µs)", "p99 (µs)"], policy,
                 note=f"The ledger counts run in an open transaction over {LEDGER_ROWS:,} rows of the skill; only "
                      "a policy with a rate limit or daily tokens needs them.")
    report.table("Routing decision, pure: the order of three endpoints", ["strategy", "p50 (µs)", "p99 (µs)"], orders)
    report.table("Routing decision in the store, uncontended: choose plus release (a transaction each)",
                 ["store", "route", "p50 (ms)", "p99 (ms)"], choose)
    report.table(f"Calls per second, {PROCESSES} processes, each endpoint {LIMIT} permits and {LATENCY_MS} ms per "
                 f"call ({args.route_calls} calls per run)",
                 ["store", "route", "calls/s", "requests per server"], rates,
                 note=f"The ceiling is {LIMIT} permits / {LATENCY_MS} ms = {LIMIT * 1000 / LATENCY_MS:.0f} calls/s per "
                      "endpoint.")
