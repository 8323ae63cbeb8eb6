"""The routing decision: which endpoint of a route a call goes to, made in the call's gate transaction.

In the transaction that also replays the ledger and checks budgets and policies, :meth:`Router.choose` reads the
route's endpoint rows and permit rows (two ``SELECT``\\ s, whatever the number of endpoints), counts the
weighted route's turn (one ``UPDATE ... RETURNING``, when more than one endpoint has a free permit: waiters only
read), and walks the strategy's order (:meth:`Route.order`):

* an endpoint paused by a 429, with its circuit open or another probe out, or its per-minute window full, is
  skipped, and why is kept;
* the first of the others with a free permit is taken (its probe claimed, if its circuit is cooling down);
* none free: the caller waits for the most preferred one (:class:`NoPermit`, listed among its waiters);
* every endpoint skipped: the route is unavailable (:class:`Blocked`, with why for each). For a route of one
  endpoint, :func:`unavailable` is the endpoint's own error, as before routes. For several, a
  :class:`~organism.gateway.breaker.CircuitOpen` if every circuit is open (a skill with ``optional=["model"]``
  goes on without the model), else a :class:`~organism.errors.Deferred` until the soonest comes back; the
  message names each endpoint's state.

Least in flight reads the permit rows the semaphore claims from, in the same transaction: a decision costs no
round trip of its own.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from organism.errors import Deferred, TransientError
from organism.gateway.breaker import CircuitOpen
from organism.gateway.endpoint import EndpointState, read_states
from organism.gateway.models import BreakerState, Permit, RouteTurn, Waiter, insert_ignoring_duplicates
from organism.gateway.provider import EndpointFailure, RateLimited
from organism.gateway.routes import Route, Target
from organism.gateway.semaphore import Lease, NoPermit

PermitRow = tuple[int, str | None, float | None, float | None]  # slot, holder, acquired_at, expires_at


@dataclass(frozen=True)
class Blocked:
    """No endpoint of the route (left to try) can take a call now; ``why`` not, by endpoint name."""

    why: dict[str, Deferred]


@dataclass(frozen=True)
class Choice:
    """The endpoint a call goes to, the permit it holds there, and its probe id if it probes the circuit."""

    target: Target
    lease: Lease
    probe: str | None


class Router:
    """Chooses among a route's endpoints in the caller's transaction."""

    def choose(self, s: Session, route: Route, waiter: str | None, now: float,
               skip: Collection[str] = ()) -> Choice | NoPermit | Blocked:
        """The endpoint for this call, the wait for a permit of the most preferred one available, or why none is.

        Args:
            waiter: the caller's stable id across retries (its task id), to keep its place among waiters.
            skip: names of endpoints this call already tried.
        """
        targets = [t for t in route.targets if t.name not in skip]
        names = [t.name for t in targets]
        states = read_states(s, names)
        held = self._held(s, targets, now)
        why: dict[str, Deferred] = {}
        for target in targets:
            blocked = target.limits.blocked(states[target.name], now) or target.breaker.blocked(
                states[target.name], now)
            if blocked is not None:
                why[target.name] = blocked
        if len(why) == len(targets):
            return Blocked(why)
        free = [t for t in targets if t.name not in why and len(held[t.name]) < t.semaphore.limit]
        turn = self._turn(s, route) if route.counted and len(free) > 1 else None
        ranked = [t for t in route.order(turn, {name: len(since) for name, since in held.items()})
                  if t.name in names and t.name not in why]
        for target in (t for t in ranked if t in free):
            chosen = self._take(s, target, states[target.name], now, why)
            if chosen is not None:
                if waiter is not None:
                    s.execute(delete(Waiter).where(Waiter.endpoint.in_(names), Waiter.waiter == waiter))
                return chosen
        if len(why) == len(targets):  # the others' probes were claimed first
            return Blocked(why)
        first = next(t for t in ranked if t.name not in why)
        return first.semaphore.wait(s, waiter, held[first.name], states[first.name].latency_s, now)

    @staticmethod
    def _held(s: Session, targets: list[Target], now: float) -> dict[str, list[float]]:
        """When each live permit of each endpoint was taken, from one ``SELECT``; missing permit rows are made."""
        rows: dict[str, list[PermitRow]] = {t.name: [] for t in targets}
        for endpoint, *row in s.execute(select(Permit.endpoint, Permit.slot, Permit.holder, Permit.acquired_at,
                                               Permit.expires_at).where(Permit.endpoint.in_(rows))):
            rows[endpoint].append(tuple(row))  # type: ignore[arg-type]
        held = {}
        for target in targets:
            since = target.semaphore.held(rows[target.name], now)
            if since is None:
                target.semaphore.ensure(s)
                since = []
            held[target.name] = since
        return held

    @staticmethod
    def _turn(s: Session, route: Route) -> int:
        """Count this call on the route, cluster-wide; the turns before it."""
        counted = update(RouteTurn).where(RouteTurn.route == route.name).values(turns=RouteTurn.turns + 1)
        turns = s.scalar(counted.returning(RouteTurn.turns))
        if turns is None:
            insert_ignoring_duplicates(s, RouteTurn, route=route.name, turns=0)
            turns = s.scalar(counted.returning(RouteTurn.turns))
        return int(turns or 1) - 1

    @staticmethod
    def _take(s: Session, target: Target, state: EndpointState, now: float,
              why: dict[str, Deferred]) -> Choice | None:
        """A permit of ``target``, and its probe if its circuit is not closed; None if either was taken first."""
        lease = target.semaphore.take(s, now)
        if lease is None:
            return None
        if state.breaker is BreakerState.CLOSED:
            return Choice(target, lease, None)
        try:
            return Choice(target, lease, target.breaker.claim(s, state, now))
        except Deferred as lost:
            target.semaphore.release(s, lease)
            why[target.name] = lost
            return None


def unavailable(route: Route, why: Mapping[str, TransientError]) -> TransientError:
    """The error of a call on ``route`` whose endpoints, by name, each failed or are unavailable as ``why`` says.

    A route of one endpoint: its own error. Several: a :class:`~organism.gateway.provider.EndpointFailure` if
    one failed, else a :class:`~organism.gateway.provider.RateLimited` if one answered 429 (each for the
    runtime's retry), else a :class:`CircuitOpen` if every circuit is open, else a :class:`Deferred` until the
    soonest is back. The message names each endpoint's state (every reason names its endpoint).
    """
    if len(route.targets) == 1 and len(why) == 1:
        return next(iter(why.values()))
    message = f"route {route.name}: no endpoint answered or is available: {'; '.join(map(str, why.values()))}"
    waits = [reason.retry_after_s for reason in why.values() if reason.retry_after_s is not None]
    wait_s = min(waits, default=None)
    if any(isinstance(reason, EndpointFailure) for reason in why.values()):
        return EndpointFailure(message, wait_s)
    if any(isinstance(reason, RateLimited) for reason in why.values()):
        return RateLimited(message, wait_s)
    if all(isinstance(reason, CircuitOpen) for reason in why.values()):
        return CircuitOpen(message, wait_s or 0.0)
    return Deferred(message, wait_s or 0.0)
