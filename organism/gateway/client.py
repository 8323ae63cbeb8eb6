"""The guarded model client: every call passes the gates below, in this order, and its outcome updates them.

1. policy: the call's route and ``max_tokens`` under its skill's policy, or a refusal (:mod:`policy`);
2. ledger: a redelivered attempt gets its recorded answer back (no second bill);
3. budget: past today's or the run's budget the call is refused (:class:`BudgetExhausted`), and past the
   skill's daily tokens too; a skill's full minute waits;
4. the route's endpoints: each one's 429 pause, circuit breaker and per-minute window, and the strategy's
   choice among the others (:mod:`router`; :class:`Deferred` while none is available);
5. a permit of the chosen endpoint's cluster-wide semaphore (:class:`Deferred` if none is free on any), and its
   half-open probe;
6. the per-minute request window, if configured;
7. the HTTP call, the permit's lease renewed meanwhile; then, in one transaction, the ledger row, the permit
   back, and the endpoint's breaker, tokens and hold time.

Steps 2 to 5 are one transaction, so a call that has to wait costs one round trip to the store. A call the
policy refuses is recorded in the ledger as refused and raised as :class:`PolicyRefused`; no request leaves.

When the chosen endpoint fails (timeout, connection error, 408/5xx, a malformed reply) or answers 429, the
call goes on, within the same attempt, to the next endpoint of its route that is available, each endpoint once,
while one more call's timeouts still fit below the skills' soft time limit. The failure counts against that
endpoint's breaker, a 429 pauses that endpoint, and only the answer is written to the ledger, under the call's
one key. A 4xx other than 429 is not failed over: the request itself is wrong. Errors follow
:mod:`organism.errors`: ``Deferred`` waits without spending an attempt, ``TransientError`` retries (a 429's
``retry_after_s`` included), ``PermanentError`` dead-letters. On a skill call's last attempt a route whose
every endpoint failed, answered 429 or is unavailable is :class:`EndpointDown`: a skill that declares
``optional=["model"]`` goes on without the model, whether or not the breakers have opened by then (a threshold
counts every caller's failures, not one call's attempts), with a reason naming each endpoint's state.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from typing import Any

from organism.errors import Deferred, PermanentError, TransientError
from organism.failures.degrade import last_attempt
from organism.gateway import ledger
from organism.gateway.budget import Budget
from organism.gateway.endpoint import Endpoints
from organism.gateway.ledger import CallKey, current_call
from organism.gateway.policy import Decision, Policies, PolicyRefused
from organism.gateway.provider import ChatResult, EndpointFailure, RateLimited, Rejected
from organism.gateway.router import Blocked, Choice, Router, unavailable
from organism.gateway.routes import Route, Routes, Target, build
from organism.gateway.semaphore import NoPermit
from organism.observability import tracing
from organism.settings import Settings, SettingsError, get_settings
from organism.store import session

logger = logging.getLogger(__name__)

FRONT_WAIT_S = 5.0  # the longest a call at the front of the line waits for a permit in its worker
Message = dict[str, Any]


class ModelNotConfigured(PermanentError):
    """A model call was made with no model API configured."""


class EndpointDown(TransientError):
    """The route's endpoints failed (or answered 429, or were unavailable) on the calling skill's last attempt: no
    retry is left, so for this call the model is down. A skill that can do without the model goes on without it
    (:data:`~organism.gateway.structured.MODEL_UNAVAILABLE`); for any other, it is the transient failure it was,
    and with the retries spent it dead-letters."""


class Gateway:
    """The guarded client for the model routes in ``settings.gateway``, with its state in ``settings.database``.

    Raises:
        ModelNotConfigured: no route is configured.
        SettingsError: the timeouts do not fit below the skills' soft time limit, or the routes or policies are
            wrong (one line each).
    """

    def __init__(self, settings: Settings) -> None:
        config = settings.gateway
        call_s = config.connect_timeout_s + config.read_timeout_s
        # Any organ's skill may call the model: the call must fit the shortest soft limit among them.
        organ, soft_limit_s = min(((organ, settings.worker(organ).soft_time_limit_s) for organ in settings.organs),
                                  key=lambda limit: limit[1])
        if call_s >= soft_limit_s:
            raise SettingsError(f"ORGANISM_GATEWAY__CONNECT_TIMEOUT_S + ORGANISM_GATEWAY__READ_TIMEOUT_S "
                                f"({call_s:g}s) must stay below the shortest soft time limit, organ {organ}'s "
                                f"({soft_limit_s:g}s: ORGANISM_WORKERS[{organ}][soft_time_limit_s], else "
                                "ORGANISM_TASK_SOFT_TIME_LIMIT_S), or a slow call outlives its task")
        if not config.all_routes:
            raise ModelNotConfigured("no model API is configured: set ORGANISM_GATEWAY__BASE_URL and "
                                     "ORGANISM_GATEWAY__MODEL, or declare [gateway.routes] "
                                     "(try `python -m devtools.fake_model`)")
        self.config = config
        self.url = settings.database
        self.call_s = call_s
        self.soft_limit_s = soft_limit_s
        self.routes: Routes = build(settings)
        self.router = Router()
        self.policies = Policies(config, self.routes.default, settings.zone)
        self.budget = Budget(config.daily_budget_usd, config.run_budget_usd, settings.zone)

    def chat(self, messages: list[Message], *, route: str | None = None, skill: str | None = None,
             run_id: str | None = None, response_format: dict[str, Any] | None = None,
             max_tokens: int | None = None) -> ChatResult:
        """One chat completion through every gate.

        Args:
            messages: OpenAI-style messages (``{"role": ..., "content": ...}``).
            route: the route (model alias) to ask; default: the skill's policy's, else the gateway's.
            skill, run_id: what the call is charged to in the ledger (default: the running task's).
            response_format: passed through, e.g. ``{"type": "json_object"}``.
            max_tokens: the most completion tokens to ask for (default: the setting, else the policy's limit).

        Raises:
            Deferred: no endpoint of the route is available now (paused by a 429, circuit open, no permit free,
                the rate window full), or the skill's minute is full.
            TransientError: every endpoint tried failed: timeout, connection error, HTTP 408/429/5xx or a
                malformed reply (:class:`EndpointDown` on a skill call's last attempt).
            PermanentError: HTTP 400/401/403/404, a route not declared, a budget spent
                (:class:`~organism.gateway.budget.BudgetExhausted`), or a policy's refusal (:class:`PolicyRefused`).
        """
        call = current_call(skill, run_id)
        try:
            decision = self.policies.decide(call.skill, call.organ, route, max_tokens)
            chosen = self.routes.route(decision.route)
            body = self._body(messages, response_format, decision.max_tokens)
            began = time.monotonic()
            tried: dict[str, TransientError] = {}
            while True:
                admitted = self._admit(call, chosen, decision, tried)
                if isinstance(admitted, ChatResult):
                    return admitted
                try:
                    return self._ask(call, chosen, admitted, body)
                except (RateLimited, EndpointFailure, Deferred) as error:
                    tried[admitted.target.name] = error
                    out_of_time = time.monotonic() - began + self.call_s >= self.soft_limit_s
                    if len(tried) == len(chosen.targets) or out_of_time:
                        failure = _given_up(chosen, tried)
                        if failure is error:
                            raise
                        raise failure from error
        except PolicyRefused as refused:
            self._refused(call, refused)
            raise

    def _admit(self, call: CallKey, route: Route, decision: Decision,
               tried: dict[str, TransientError]) -> ChatResult | Choice:
        """Steps 2 to 5 in one transaction, the front of the line waiting here for a permit: the recorded answer
        of a redelivered call, or the endpoint and permit for this one."""
        waited_s = 0.0
        while True:
            with session(self.url) as s:  # every gate in one transaction: a waiting call costs one round trip
                replayed = ledger.replay(s, call)
                if replayed is not None:
                    return replayed
                self.budget.check(s, call.run_id)
                decision.check(s)
                taken = self.router.choose(s, route, call.task_id if call.in_task else None, time.time(), tried)
            if isinstance(taken, Blocked):
                raise _given_up(route, {**tried, **taken.why})
            if not isinstance(taken, NoPermit):
                return taken
            # The front of the line waits here, polling: sent away through the broker, it came back up to a
            # second late when the workers were busy, and the permit stood idle meanwhile (docs/gateway.md).
            if not taken.front or waited_s >= FRONT_WAIT_S:
                raise taken  # after the commit, which keeps the waiter's place in line
            pause_s = min(taken.wait_s, self.config.permit_poll_s)
            time.sleep(pause_s)
            waited_s += pause_s

    def _ask(self, call: CallKey, route: Route, choice: Choice, body: dict[str, Any]) -> ChatResult:
        """The HTTP call to the chosen endpoint; its outcome recorded in the ledger and the endpoint's row."""
        target, probe = choice.target, choice.probe
        acquired = time.monotonic()
        try:
            with target.semaphore.renewing(choice.lease), tracing.model_call(target.url, target.model) as traced:
                window = target.limits.claim(time.time())
                result = target.provider.complete({**body, "model": target.model})
                if not result.model:
                    result = dataclasses.replace(result, model=target.model)
                traced.answered(result, target.prices)
                self._record(call, route, choice, result, window, time.monotonic() - acquired)
        except RateLimited as error:
            now = time.time()
            self._settle(target, target.limits.pause_values(error.retry_after_s or 0.0, now)
                         | target.breaker.success_values(probe) | target.endpoints.error_values(error, now))
            raise
        except EndpointFailure as error:
            now = time.time()
            self._settle(target, target.breaker.failure_values(probe, now) | target.endpoints.error_values(error, now))
            raise
        except Rejected as error:
            now = time.time()
            self._settle(target, target.breaker.success_values(probe) | target.endpoints.error_values(error, now))
            raise
        except BaseException:
            if probe is not None:
                target.breaker.abandon(probe, time.time())
            raise
        return result

    def _body(self, messages: list[Message], response_format: dict[str, Any] | None,
              max_tokens: int | None) -> dict[str, Any]:
        body: dict[str, Any] = {"messages": messages}
        if response_format is not None:
            body["response_format"] = response_format
        if self.config.temperature is not None:
            body["temperature"] = self.config.temperature
        if max_tokens is not None:
            body["max_tokens"] = max_tokens
        return body

    def _settle(self, target: Target, values: dict[str, Any]) -> None:
        """Apply a failed call's consequences; a store error is logged so the call's own error stands."""
        try:
            target.endpoints.update(**values)
        except Exception:
            logger.exception("could not update the shared state of %s", target.name)

    def _record(self, call: CallKey, route: Route, choice: Choice, result: ChatResult, window: float | None,
                held_s: float) -> None:
        """One transaction: the ledger row, the permit back, the endpoint's breaker, tokens and hold time."""
        target = choice.target
        values = (target.breaker.success_values(choice.probe)
                  | target.limits.tokens_values(window, result.usage.total_tokens) | Endpoints.latency_values(held_s))
        try:
            with session(self.url) as s:
                if not ledger.record(s, call, target.name, result, target.prices.price(result.model), route.name):
                    logger.info("ledger: call %s/%s/%s was already recorded", call.task_id, call.attempt, call.seq)
                s.execute(target.endpoints.statement(**values))
                target.semaphore.release(s, choice.lease)
            choice.lease.released = True
        except Exception:
            logger.exception("ledger: could not record call %s/%s/%s (%s, %d prompt + %d completion tokens); "
                             "the answer is used anyway", call.task_id, call.attempt, call.seq, result.model,
                             result.usage.prompt_tokens, result.usage.completion_tokens)

    def _refused(self, call: CallKey, refused: PolicyRefused) -> None:
        """Record a refusal in the ledger; a store error is logged so the refusal itself stands."""
        try:
            with session(self.url) as s:
                ledger.refuse(s, call, refused.route, refused.policy, str(refused))
        except Exception:
            logger.exception("ledger: could not record the refusal of call %s/%s/%s", call.task_id, call.attempt,
                             call.seq)


def _given_up(route: Route, why: dict[str, TransientError]) -> TransientError:
    """The error of a call whose route's endpoints each failed or are unavailable, by name, as ``why`` says:
    :class:`EndpointDown` if one failed or answered 429 and the running skill call has no retry left."""
    error = unavailable(route, why)
    if last_attempt() and not isinstance(error, Deferred):
        return EndpointDown(f"{error} (the last attempt: no retry left)", error.retry_after_s)
    return error


_gateway: tuple[int, Settings, Gateway] | None = None


def gateway() -> Gateway:
    """This process's gateway for the process-wide settings (built anew in a forked child or for new settings)."""
    global _gateway
    settings = get_settings()
    if _gateway is None or _gateway[0] != os.getpid() or _gateway[1] is not settings:
        _gateway = (os.getpid(), settings, Gateway(settings))
    return _gateway[2]


def chat(messages: list[Message], *, route: str | None = None, skill: str | None = None, run_id: str | None = None,
         response_format: dict[str, Any] | None = None, max_tokens: int | None = None) -> ChatResult:
    """:meth:`Gateway.chat` on this process's gateway."""
    return gateway().chat(messages, route=route, skill=skill, run_id=run_id, response_format=response_format,
                          max_tokens=max_tokens)


def model_configured(settings: Settings | None = None) -> bool:
    """Whether model-using skills should use the model (a base URL and a model, or a route, are configured)."""
    return (settings or get_settings()).gateway.configured
