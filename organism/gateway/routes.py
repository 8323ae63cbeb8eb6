"""The routing table: each route's endpoints, built from the settings, and its strategy's order of preference.

An endpoint (:class:`Target`) is built once per process whatever routes name it, with its own HTTP client, price
and guards over its shared row: breaker, 429 pause and per-minute windows (:mod:`ratelimit`), and semaphore.
What the settings' models cannot check alone is checked here, when the app starts (:func:`problems`): each
problem one line naming the route, endpoint or policy.

The order a strategy prefers (:meth:`Route.order`) is a pure function of what the store says, so it costs
microseconds; the router (:mod:`organism.gateway.router`) reads the store and walks the order.

* ``weighted``: call ``n`` on the route, counted cluster-wide (``gateway_routes``), prefers position ``n`` of
  the route's cycle: smooth weighted round-robin (nginx's) over the weights as the smallest whole numbers in
  their ratio, so weights 3 and 1 give ``0 0 1 0``, every four calls, in every process together. Then the endpoints that
  follow in the cycle, then those of weight 0 (standbys), in their order.
* ``least_in_flight``: the fewest calls in flight cluster-wide (live permits), ties in random order.
* ``failover``: the order they are declared in.
"""

from __future__ import annotations

import functools
import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from pydantic import SecretStr

from organism.errors import PermanentError
from organism.gateway.breaker import Breaker, probe_ttl_s
from organism.gateway.endpoint import Endpoints
from organism.gateway.prices import Price, PriceError, Prices, PriceTable
from organism.gateway.provider import Provider
from organism.gateway.ratelimit import RateLimits
from organism.gateway.semaphore import Semaphore
from organism.gateway.settings import (
    DEFAULT_ROUTE,
    EndpointSettings,
    GatewaySettings,
    RouteSettings,
    Strategy,
    endpoint_name,
)
from organism.settings import Settings, SettingsError

CYCLE_UNITS = 1000  # weights are read to a thousandth
MAX_CYCLE = 10_000  # turns in a cycle, at most
ROUTE_CHARS = 100  # a route's name in the ledger and the turn counter


class UnknownRoute(PermanentError):
    """A call named a route that is not declared."""


@dataclass(frozen=True)
class Target:
    """One endpoint as the gateway calls it: its name (the key of its shared state), its base URL without
    credentials, the model it is asked for, and its HTTP client, guards and price."""

    name: str
    url: str
    model: str
    provider: Provider
    endpoints: Endpoints
    semaphore: Semaphore
    breaker: Breaker
    limits: RateLimits
    prices: Prices


@dataclass(frozen=True)
class Route:
    """A route: its endpoints with their weights, in declared order, and its strategy."""

    name: str
    strategy: Strategy
    targets: tuple[Target, ...]
    weights: tuple[float, ...]

    @functools.cached_property
    def cycle(self) -> tuple[int, ...]:
        """One cycle of the weighted strategy: indices into ``targets``, each as often as its weight says."""
        return smooth_cycle(self.weights)

    @property
    def counted(self) -> bool:
        """Whether its calls take turns of a shared counter (a weighted route of several endpoints)."""
        return self.strategy == "weighted" and len(self.targets) > 1

    def order(self, turn: int | None, in_flight: Mapping[str, int]) -> list[Target]:
        """Every endpoint, most preferred first, for the call that takes ``turn`` (weighted) with ``in_flight``
        calls on each endpoint, by name (least in flight)."""
        if self.strategy == "least_in_flight":
            return sorted(self.targets, key=lambda t: (in_flight.get(t.name, 0), random.random()))
        if self.strategy == "failover" or turn is None:
            return list(self.targets)
        cycle = self.cycle
        seen: dict[int, None] = {}
        start = turn % len(cycle)
        for step in range(len(cycle)):
            seen.setdefault(cycle[(start + step) % len(cycle)])
            if len(seen) == len(self.targets):
                break
        standby = [i for i in range(len(self.targets)) if i not in seen]
        return [self.targets[i] for i in [*seen, *standby]]


def smooth_cycle(weights: tuple[float, ...]) -> tuple[int, ...]:
    """Smooth weighted round-robin (nginx's) over ``weights`` as the smallest whole numbers in their ratio (to
    a thousandth): each index as often as its weight says, spread out; an index of weight 0 never."""
    ratios = [Fraction(w).limit_denominator(CYCLE_UNITS) for w in weights]
    scale = math.lcm(*(r.denominator for r in ratios))
    units = [int(r * scale) for r in ratios]
    if sum(units) > MAX_CYCLE or any(u == 0 < w for u, w in zip(units, weights, strict=True)):
        # weights with no small common measure, or below a thousandth: thousandths of their sum, at least one
        units = [max(1, round(w / sum(weights) * CYCLE_UNITS)) if w > 0 else 0 for w in weights]
    common = math.gcd(*units)
    units = [u // common for u in units]
    length = sum(units)
    current = [0] * len(units)
    order = []
    for _ in range(length):
        current = [c + u for c, u in zip(current, units, strict=True)]
        best = max(range(len(units)), key=lambda i: (current[i], -i))
        current[best] -= length
        order.append(best)
    return tuple(order)


@dataclass(frozen=True)
class Routes:
    """Every route by name, every endpoint by name, and the route of a call that names none."""

    routes: dict[str, Route]
    targets: dict[str, Target]
    default: str

    def route(self, name: str) -> Route:
        """The route called ``name``.

        Raises:
            UnknownRoute: no such route is declared.
        """
        found = self.routes.get(name)
        if found is None:
            raise UnknownRoute(f"no route {name!r} is declared (routes: {', '.join(self.routes)}); "
                               "see [gateway.routes] in docs/gateway.md")
        return found


def check(settings: Settings) -> None:
    """Check the gateway's routes and policies, as the app starts.

    Raises:
        SettingsError: :func:`problems` found some, one line each.
    """
    found = problems(settings)
    if found:
        raise SettingsError("\n".join(found))


def build(settings: Settings) -> Routes:
    """The routing table of ``settings``.

    Raises:
        SettingsError: :func:`problems` found some, one line each.
    """
    check(settings)
    config = settings.gateway
    table = PriceTable.load(config.prices_file)
    targets: dict[str, Target] = {}
    routes = {}
    for alias, route in config.all_routes.items():
        for endpoint in route.endpoints:
            if endpoint.key not in targets:
                targets[endpoint.key] = _target(settings.database, config, endpoint, table)
        routes[alias] = Route(alias, route.strategy, tuple(targets[e.key] for e in route.endpoints),
                              tuple(e.weight for e in route.endpoints))
    default = config.default_route_name
    assert default is not None  # problems() says so otherwise
    return Routes(routes, targets, default)


def _target(url: str, config: GatewaySettings, endpoint: EndpointSettings, table: PriceTable) -> Target:
    name = endpoint.key
    key = endpoint.api_key
    if endpoint.api_key_file is not None:
        key = SecretStr(endpoint.api_key_file.read_text(encoding="utf-8").strip())
    provider = Provider(endpoint.base_url, key, config.connect_timeout_s, config.read_timeout_s,
                        config.default_pause_s, config.max_pause_s, name=name)
    endpoints = Endpoints(url, name)
    price: Prices = table
    if endpoint.input_usd_per_mtok is not None and endpoint.output_usd_per_mtok is not None:
        price = Price(endpoint.input_usd_per_mtok, endpoint.output_usd_per_mtok)
    return Target(
        name, endpoint_name(endpoint.base_url), endpoint.model, provider, endpoints,
        Semaphore(url, name, endpoint.max_concurrency or config.max_concurrency, config.lease_ttl_s,
                  config.permit_poll_s, config.max_wait_s),
        Breaker(endpoints, config.breaker_failures, config.breaker_cooldown_s, probe_ttl_s(config),
                config.max_wait_s),
        RateLimits(endpoints, endpoint.requests_per_minute or config.requests_per_minute,
                   endpoint.tokens_per_minute or config.tokens_per_minute),
        price)


def problems(settings: Settings) -> list[str]:
    """What is wrong with the gateway's routes and policies that their settings' models cannot see alone: one
    line each, naming the route, endpoint or policy (empty if nothing is)."""
    config = settings.gateway
    routes = config.all_routes
    found = []
    if config.base_url and config.model and DEFAULT_ROUTE in config.routes:
        found.append(f"gateway route {DEFAULT_ROUTE}: declared twice, by ORGANISM_GATEWAY__BASE_URL and MODEL and "
                     "in [gateway.routes]; name yours otherwise or unset BASE_URL and MODEL")
    if config.default_route is not None and config.default_route not in routes:
        found.append(f"gateway default_route {config.default_route}: no such route{_among(routes)}")
    found += [f"gateway route {alias}: a name longer than {ROUTE_CHARS} characters"
              for alias in routes if len(alias) > ROUTE_CHARS]
    found += _endpoint_problems(routes)
    try:
        table = PriceTable.load(config.prices_file)
    except PriceError as error:
        found.append(f"gateway prices_file: {error}")
    else:
        found += [f"gateway route {alias}, endpoint {e.key}: no price for model {e.model} in {config.prices_file}; "
                  "add it there or give the endpoint input_usd_per_mtok and output_usd_per_mtok"
                  for alias, route in config.routes.items() for e in route.endpoints
                  if e.input_usd_per_mtok is None and table.find(e.model) is None]
    found += [f"gateway route {alias}, endpoint {e.key}: api_key_file {e.api_key_file}: {trouble}"
              for alias, route in config.routes.items() for e in route.endpoints
              if e.api_key_file is not None and (trouble := _unreadable(e.api_key_file))]
    for key, policy in config.policies.items():
        organ = key.removeprefix("organ.") if key.startswith("organ.") else None
        if organ is not None and organ not in settings.organs:
            found.append(f"gateway policy {key}: no organ {organ} (organs: {', '.join(settings.organs)})")
        found += [f"gateway policy {key}: no route {name}{_among(routes)}"
                  for name in (*(policy.routes or ()), *([policy.route] if policy.route else []))
                  if name not in routes]
        if policy.route and policy.routes is not None and policy.route not in policy.routes:
            found.append(f"gateway policy {key}: its route {policy.route} is not among its routes "
                         f"({', '.join(policy.routes)})")
    return found


def _endpoint_problems(routes: dict[str, RouteSettings]) -> list[str]:
    """Endpoints of one name declared differently, or twice in one route."""
    found = []
    first: dict[str, tuple[str, EndpointSettings]] = {}
    for alias, route in routes.items():
        names = [e.key for e in route.endpoints]
        found += [f"gateway route {alias}: endpoint {name} is named twice; give each its own name"
                  for name in sorted({n for n in names if names.count(n) > 1})]
        for endpoint in route.endpoints:
            seen = first.setdefault(endpoint.key, (alias, endpoint))
            if seen[0] != alias and _differs(seen[1], endpoint):
                found.append(f"gateway endpoint {endpoint.key}: declared differently in routes {seen[0]} and "
                             f"{alias} (one name is one endpoint: give each its own name)")
    return found


def _differs(one: EndpointSettings, other: EndpointSettings) -> bool:
    return one.model_dump(exclude={"weight"}) != other.model_dump(exclude={"weight"})


def _unreadable(path: Path) -> str | None:
    try:
        return None if path.read_text(encoding="utf-8").strip() else "is empty"
    except (OSError, UnicodeDecodeError) as error:
        return f"cannot be read ({error.strerror if isinstance(error, OSError) else error})"


def _among(routes: Mapping[str, object]) -> str:
    return f" (routes: {', '.join(routes)})" if routes else " (no route is declared)"
