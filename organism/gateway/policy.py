"""Policies: which routes a skill may use, its own rate limit and daily tokens, and its largest call.

A skill's policy is ``[gateway.policies."<skill>"]``; an organ's, ``[gateway.policies."organ.<organ>"]``, is
the default of its skills, a skill's own overriding it field by field. Each rule keeps the name of the policy that
set it (``skill q1p0.pain_scanner``, ``organ perception``), and every refusal names it.

Evaluation has two parts, both before any request leaves:

* :meth:`Policies.decide`, a pure function over the settings (the merged policy is cached per skill): the route
  (the call's, else the policy's, else the gateway's default if allowed, else the first allowed), whether the
  route is allowed, and the call's ``max_tokens`` (one above the limit is refused; none asked: the limit is sent);
* :meth:`Decision.check`, only for a policy with a rate limit or daily tokens: one ``SELECT`` over the ledger in
  the call's gate transaction, counting the skill's answered calls in the last minute and its tokens today.

A refusal is a :class:`PolicyRefused` (a :class:`~organism.errors.PermanentError`; daily tokens spent are a
:class:`PolicyTokensSpent`, a kind of :class:`~organism.gateway.budget.BudgetExhausted`, so a skill with
``optional=["model"]`` goes on without the model, as for a spent budget); the client records it in the ledger
as refused. A full minute is a :class:`~organism.errors.Deferred`: the call waits, as for an endpoint's own
per-minute limit. Counted from the ledger, the minute and the day see answered calls only, so calls in flight
can overshoot them by as many calls as hold permits.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from organism.errors import Deferred, PermanentError
from organism.gateway.budget import BudgetExhausted
from organism.gateway.ledger import day_start
from organism.gateway.models import LedgerEntry, LedgerStatus
from organism.gateway.settings import GatewaySettings, PolicySettings

T = TypeVar("T")
MINUTE_S = 60.0


class PolicyRefused(PermanentError):
    """A call outside its skill's policy, refused before any request left; ``policy`` names the policy, ``route``
    the route the call asked for."""

    status = "refused"

    def __init__(self, message: str, policy: str, route: str) -> None:
        super().__init__(message)
        self.policy = policy
        self.route = route

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (str(self), self.policy, self.route)


class PolicyTokensSpent(PolicyRefused, BudgetExhausted):
    """The skill's daily tokens are spent: like a spent budget, the model is unavailable to it until midnight."""

    status = "refused"


@dataclass(frozen=True)
class Rule(Generic[T]):
    """One rule's value and the name of the policy that set it."""

    value: T
    policy: str


@dataclass(frozen=True)
class Policy:
    """The rules of one skill's calls, merged from its own policy and its organ's; None where neither sets one."""

    routes: Rule[tuple[str, ...]] | None = None
    route: Rule[str] | None = None
    requests_per_minute: Rule[int] | None = None
    daily_tokens: Rule[int] | None = None
    max_tokens: Rule[int] | None = None

    @property
    def counted(self) -> bool:
        """Whether calls under it need the ledger's counts (a rate limit or daily tokens)."""
        return self.requests_per_minute is not None or self.daily_tokens is not None


NO_POLICY = Policy()


@dataclass(frozen=True)
class Decision:
    """What a call may do: its route, the ``max_tokens`` it sends (None: none), and the policy it is under."""

    route: str
    max_tokens: int | None
    skill: str | None
    policy: Policy
    zone: ZoneInfo

    def check(self, s: Session, now: datetime | None = None) -> None:
        """Check the skill's rate limit and daily tokens against the ledger, in one ``SELECT`` in ``s``.

        Raises:
            PolicyTokensSpent: today's tokens have reached the policy's limit.
            Deferred: a minute's calls have reached the policy's limit; the wait is until the oldest is a
                minute old.
        """
        policy = self.policy
        if not policy.counted or self.skill is None:
            return
        now = now or datetime.now(UTC)
        today = day_start(now.astimezone(self.zone).date(), self.zone)
        minute_ago = now - timedelta(seconds=MINUTE_S)
        recent = LedgerEntry.created_at >= minute_ago
        calls, oldest, tokens = s.execute(
            select(func.count(case((recent, 1))), func.min(case((recent, LedgerEntry.created_at))),
                   func.sum(case((LedgerEntry.created_at >= today,
                                  LedgerEntry.prompt_tokens + LedgerEntry.completion_tokens), else_=0)))
            .where(LedgerEntry.skill == self.skill, LedgerEntry.status == LedgerStatus.ANSWERED.value,
                   LedgerEntry.created_at >= min(today, minute_ago))).one()
        daily = policy.daily_tokens
        if daily is not None and (tokens or 0) >= daily.value:
            raise PolicyTokensSpent(
                f"policy {daily.policy}: daily tokens reached: {tokens or 0:,} of {daily.value:,} on "
                f"{now.astimezone(self.zone).date()} ({self.zone.key}); its calls are refused until midnight there",
                daily.policy, self.route)
        rate = policy.requests_per_minute
        if rate is not None and calls >= rate.value:
            oldest = oldest if oldest.tzinfo else oldest.replace(tzinfo=UTC)  # SQLite keeps no zone
            wait_s = max(0.01, (oldest - minute_ago).total_seconds())
            raise Deferred(f"policy {rate.policy}: {calls} calls in the last minute, its limit is {rate.value}; "
                           f"the next in {wait_s:.1f}s", wait_s)


class Policies:
    """The policies of ``config``, merged per skill on first use."""

    def __init__(self, config: GatewaySettings, default_route: str, zone: ZoneInfo) -> None:
        self.config = config
        self.default_route = default_route
        self.zone = zone

    def decide(self, skill: str | None, organ: str | None, route: str | None, max_tokens: int | None) -> Decision:
        """The route and ``max_tokens`` of a call by ``skill`` of ``organ`` that asked for ``route`` (None: its
        default) and ``max_tokens`` (None: the gateway's setting, if any).

        Raises:
            PolicyRefused: the route is not allowed, or ``max_tokens`` is above the policy's limit.
        """
        policy = self.policy(skill, organ)
        chosen = route or self._default(policy)
        allowed = policy.routes
        if allowed is not None and chosen not in allowed.value:
            raise PolicyRefused(f"policy {allowed.policy}: route {chosen} is not allowed "
                                f"(allowed: {', '.join(allowed.value) or 'none'})", allowed.policy, chosen)
        asked = max_tokens if max_tokens is not None else self.config.max_tokens
        limit = policy.max_tokens
        if limit is not None:
            if asked is not None and asked > limit.value:
                raise PolicyRefused(f"policy {limit.policy}: max_tokens {asked} is above its limit of "
                                    f"{limit.value}", limit.policy, chosen)
            asked = asked if asked is not None else limit.value
        return Decision(chosen, asked, skill, policy, self.zone)

    @functools.lru_cache(maxsize=1024)  # noqa: B019 - one Policies per gateway, which lives as long as its process
    def policy(self, skill: str | None, organ: str | None) -> Policy:
        """The merged policy of ``skill`` of ``organ``: the skill's own rules over its organ's."""
        layers = [(f"organ {organ}", self.config.policies.get(f"organ.{organ}")),
                  (f"skill {skill}", self.config.policies.get(skill) if skill else None)]
        rules: dict[str, Rule[Any]] = {}
        for name, settings in layers:
            if settings is not None:
                rules.update((field, Rule(value, name)) for field, value in _set(settings).items())
        return Policy(**rules) if rules else NO_POLICY

    def _default(self, policy: Policy) -> str:
        if policy.route is not None:
            return policy.route.value
        allowed = policy.routes
        if allowed is None or self.default_route in allowed.value or not allowed.value:
            return self.default_route
        return allowed.value[0]


def _set(settings: PolicySettings) -> dict[str, Any]:
    """The fields a policy sets."""
    return {field: value for field, value in settings if value is not None}
