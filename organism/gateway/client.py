"""The guarded model client: every call passes the gates below, in this order, and its outcome updates them.

1. ledger: a redelivered attempt gets its recorded answer back (no second bill);
2. budget: past today's or the run's budget the call is refused (:class:`BudgetExhausted`);
3. the endpoint's 429 pause and circuit breaker (:class:`Deferred` while they say wait);
4. a permit of the cluster-wide semaphore (:class:`Deferred` if none is free), and the half-open probe;
5. the per-minute request window, if configured;
6. the HTTP call, the permit's lease renewed meanwhile; then, in one transaction, the ledger row, the permit
   back, and the endpoint's breaker, tokens and hold time.

Steps 1 to 4 are one transaction, so a call that has to wait costs one round trip to the store. Errors follow
:mod:`organism.errors`: ``Deferred`` waits without spending an attempt, ``TransientError`` retries (a 429's
``retry_after_s`` included), ``PermanentError`` dead-letters. On a skill call's last attempt a failed call or a
429 is an :class:`EndpointDown`: a skill that declares ``optional=["model"]`` goes on without the model, whether
or not the breaker has opened by then (its threshold counts every caller's failures, not one call's attempts).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from typing import Any

from organism.errors import PermanentError, TransientError
from organism.failures.degrade import last_attempt
from organism.gateway import ledger
from organism.gateway.breaker import Breaker
from organism.gateway.budget import Budget
from organism.gateway.endpoint import Endpoints
from organism.gateway.ledger import CallKey, current_call
from organism.gateway.prices import PriceTable
from organism.gateway.provider import ChatResult, EndpointFailure, Provider, RateLimited, Rejected
from organism.gateway.ratelimit import RateLimits
from organism.gateway.semaphore import Lease, NoPermit, Semaphore
from organism.gateway.settings import GatewaySettings
from organism.observability import tracing
from organism.settings import Settings, SettingsError, get_settings
from organism.store import session

logger = logging.getLogger(__name__)

PROBE_MARGIN_S = 5.0  # a probe's claim outlives its call's timeouts by this much
FRONT_WAIT_S = 5.0  # the longest a call at the front of the line waits for a permit in its worker
Message = dict[str, Any]


class ModelNotConfigured(PermanentError):
    """A model call was made with no model API configured."""


class EndpointDown(TransientError):
    """The endpoint failed (or answered 429) on the calling skill's last attempt: no retry is left, so for this
    call the model is down. A skill that can do without the model goes on without it
    (:data:`~organism.gateway.structured.MODEL_UNAVAILABLE`); for any other, it is the transient failure it was,
    and with the retries spent it dead-letters."""


def probe_ttl_s(config: GatewaySettings) -> float:
    """How long a half-open probe's claim lasts: longer than its call can take."""
    return config.connect_timeout_s + config.read_timeout_s + PROBE_MARGIN_S


class Gateway:
    """The guarded client for the model API in ``settings.gateway``, with its state in ``settings.database``.

    Raises:
        ModelNotConfigured: no base URL is configured.
        SettingsError: the timeouts do not fit below the skills' soft time limit.
    """

    def __init__(self, settings: Settings) -> None:
        config = settings.gateway
        if not config.base_url:
            raise ModelNotConfigured("no model API is configured: set ORGANISM_GATEWAY__BASE_URL and "
                                     "ORGANISM_GATEWAY__MODEL (try `python -m devtools.fake_model`)")
        call_s = config.connect_timeout_s + config.read_timeout_s
        if call_s >= settings.task_soft_time_limit_s:
            raise SettingsError(f"ORGANISM_GATEWAY__CONNECT_TIMEOUT_S + ORGANISM_GATEWAY__READ_TIMEOUT_S "
                                f"({call_s:g}s) must stay below ORGANISM_TASK_SOFT_TIME_LIMIT_S "
                                f"({settings.task_soft_time_limit_s:g}s), or a slow call outlives its task")
        self.config = config
        self.model = config.model
        self.url = settings.database
        self.provider = Provider(config.base_url, config.api_key, config.connect_timeout_s, config.read_timeout_s,
                                 config.default_pause_s, config.max_pause_s)
        self.endpoint = self.provider.endpoint
        self.endpoints = Endpoints(self.url, self.endpoint)
        self.semaphore = Semaphore(self.url, self.endpoint, config.max_concurrency, config.lease_ttl_s,
                                   config.permit_poll_s, config.max_wait_s)
        self.breaker = Breaker(self.endpoints, config.breaker_failures, config.breaker_cooldown_s, probe_ttl_s(config),
                               config.max_wait_s)
        self.limits = RateLimits(self.endpoints, config.requests_per_minute, config.tokens_per_minute)
        self.budget = Budget(config.daily_budget_usd, config.run_budget_usd, settings.zone)
        self.prices = PriceTable.load(config.prices_file)

    def chat(self, messages: list[Message], *, model: str | None = None, skill: str | None = None,
             run_id: str | None = None, response_format: dict[str, Any] | None = None) -> ChatResult:
        """One chat completion through every gate.

        Args:
            messages: OpenAI-style messages (``{"role": ..., "content": ...}``).
            model: the model to ask (default: the configured one).
            skill, run_id: what the call is charged to in the ledger (default: the running task's).
            response_format: passed through, e.g. ``{"type": "json_object"}``.

        Raises:
            Deferred: paused by a 429, circuit open, no permit free, or the rate window full.
            TransientError: timeout, connection error, HTTP 408/429/5xx or a malformed reply.
            PermanentError: HTTP 400/401/403/404, no model configured, or a budget spent
                (:class:`~organism.gateway.budget.BudgetExhausted`).
        """
        call = current_call(skill, run_id)
        body = self._body(messages, model, response_format)
        waited_s = 0.0
        while True:
            with session(self.url) as s:  # every gate in one transaction: a waiting call costs one round trip
                replayed = ledger.replay(s, call)
                if replayed is not None:
                    return replayed
                self.budget.check(s, call.run_id)
                state = self.endpoints.read(s)
                now = time.time()
                self.limits.check_pause(state, now)
                self.breaker.check(state, now)
                taken = self.semaphore.acquire(s, call.task_id if call.in_task else None, state.latency_s)
                probe = self.breaker.claim(s, state, now) if isinstance(taken, Lease) else None
            if not isinstance(taken, NoPermit):
                break
            # The front of the line waits here, polling: sent away through the broker, it came back up to a
            # second late when the workers were busy, and the permit stood idle meanwhile (docs/gateway.md).
            if taken.position >= self.semaphore.limit or waited_s >= FRONT_WAIT_S:
                raise taken  # after the commit, which keeps the waiter's place in line
            pause_s = min(taken.wait_s, self.semaphore.poll_s)
            time.sleep(pause_s)
            waited_s += pause_s
        acquired = time.monotonic()
        try:
            with self.semaphore.renewing(taken), tracing.model_call(self.endpoint, body["model"]) as traced:
                window = self.limits.claim(time.time())
                result = self.provider.complete(body)
                if not result.model:
                    result = dataclasses.replace(result, model=body["model"])
                traced.answered(result, self.prices)
                self._record(call, result, probe, window, time.monotonic() - acquired, taken)
        except RateLimited as error:
            self._settle(self.limits.pause_values(error.retry_after_s or 0.0, time.time())
                         | self.breaker.success_values(probe))
            _give_up_on_last_attempt(error)
            raise
        except EndpointFailure as error:
            self._settle(self.breaker.failure_values(probe, time.time()))
            _give_up_on_last_attempt(error)
            raise
        except Rejected:
            self._settle(self.breaker.success_values(probe))
            raise
        except BaseException:
            if probe is not None:
                self.breaker.abandon(probe, time.time())
            raise
        return result

    def _body(self, messages: list[Message], model: str | None,
              response_format: dict[str, Any] | None) -> dict[str, Any]:
        chosen = model or self.model
        if not chosen:
            raise ModelNotConfigured("no model named: set ORGANISM_GATEWAY__MODEL or pass model=")
        body: dict[str, Any] = {"model": chosen, "messages": messages}
        if response_format is not None:
            body["response_format"] = response_format
        if self.config.temperature is not None:
            body["temperature"] = self.config.temperature
        if self.config.max_tokens is not None:
            body["max_tokens"] = self.config.max_tokens
        return body

    def _settle(self, values: dict[str, Any]) -> None:
        """Apply a failed call's consequences; a store error is logged so the call's own error stands."""
        try:
            self.endpoints.update(**values)
        except Exception:
            logger.exception("could not update the shared state of %s", self.endpoint)

    def _record(self, call: CallKey, result: ChatResult, probe: str | None, window: float | None, held_s: float,
                lease: Lease) -> None:
        """One transaction: the ledger row, the permit back, the endpoint's breaker, tokens and hold time."""
        values = (self.breaker.success_values(probe) | self.limits.tokens_values(window, result.usage.total_tokens)
                  | Endpoints.latency_values(held_s))
        try:
            with session(self.url) as s:
                if not ledger.record(s, call, self.endpoint, result, self.prices.price(result.model)):
                    logger.info("ledger: call %s/%s/%s was already recorded", call.task_id, call.attempt, call.seq)
                s.execute(self.endpoints.statement(**values))
                self.semaphore.release(s, lease)
            lease.released = True
        except Exception:
            logger.exception("ledger: could not record call %s/%s/%s (%s, %d prompt + %d completion tokens); "
                             "the answer is used anyway", call.task_id, call.attempt, call.seq, result.model,
                             result.usage.prompt_tokens, result.usage.completion_tokens)


def _give_up_on_last_attempt(error: TransientError) -> None:
    """Raise :class:`EndpointDown` for ``error`` if the running skill call has no retry left."""
    if last_attempt():
        raise EndpointDown(f"{error} (the last attempt: no retry left)", error.retry_after_s) from error


_gateway: tuple[int, Settings, Gateway] | None = None


def gateway() -> Gateway:
    """This process's gateway for the process-wide settings (built anew in a forked child or for new settings)."""
    global _gateway
    settings = get_settings()
    if _gateway is None or _gateway[0] != os.getpid() or _gateway[1] is not settings:
        _gateway = (os.getpid(), settings, Gateway(settings))
    return _gateway[2]


def chat(messages: list[Message], *, model: str | None = None, skill: str | None = None, run_id: str | None = None,
         response_format: dict[str, Any] | None = None) -> ChatResult:
    """:meth:`Gateway.chat` on this process's gateway."""
    return gateway().chat(messages, model=model, skill=skill, run_id=run_id, response_format=response_format)


def model_configured(settings: Settings | None = None) -> bool:
    """Whether model-using skills should use the model (a base URL and a model are configured)."""
    return (settings or get_settings()).gateway.configured
