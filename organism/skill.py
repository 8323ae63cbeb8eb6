"""``@skill`` and :class:`SkillTask`: a plain function becomes a validated, routed, tracked, guarded Celery task.

    @skill(organ="perception", quadrant="q1", effect="read-only")
    def pain_scanner(sources: list[str], top_n: int = 10) -> dict: ...

The organ decides the queue (and so which workers run it). Arguments are validated against the function's
annotations on the worker; invalid input is a permanent error. A failure is classified once (failures.py):
transient errors retry with backoff or after ``Retry-After``, deferrals wait without spending an attempt, and
the rest, or the last retry, leaves exactly one dead letter and sends the message to the dead-letter exchange.
"""

from __future__ import annotations

import enum
import functools
import inspect
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from celery import Task, shared_task
from pydantic import ValidationError, validate_call

from organism import deadletter, degrade, node_writer, tracking
from organism.errors import InvalidArguments, PermanentError, SkillDefinitionError
from organism.failures import Action, classify
from organism.retry import RETRY_HEADER, RetryPolicy, retry_delay_s
from organism.settings import Settings, get_settings
from organism.store.models import utcnow

ATTEMPTS_HEADER = "organism_attempts"
# Headers a retry must carry on: Celery re-sends a task with its standard options only.
CARRIED_HEADERS = (tracking.RUN_HEADER, tracking.NODE_HEADER, RETRY_HEADER, deadletter.REPLAY_HEADER)
# Celery task options a skill may set; anything else is refused at import, not at the first message.
CELERY_OPTIONS = frozenset({"soft_time_limit", "time_limit", "priority", "ignore_result"})


class Effect(enum.StrEnum):
    """What running a skill twice does; replaying an unsafe skill's dead letter needs --force."""

    READ_ONLY = "read-only"
    IDEMPOTENT = "idempotent"
    UNSAFE = "unsafe"


class PoisonMessage(PermanentError):
    """A message that was delivered more often than the cap: each delivery killed its worker."""


@dataclass(frozen=True)
class SkillInfo:
    """What a skill declares, kept on its task class."""

    organ: str
    quadrant: str | None = None
    description: str = ""
    effect: Effect = Effect.UNSAFE
    retry: dict[str, Any] = field(default_factory=dict)
    transient: tuple[type[BaseException], ...] = ()
    permanent: tuple[type[BaseException], ...] = ()
    optional: frozenset[str] = frozenset()


class SkillTask(Task):
    """The base of every skill: bookkeeping lives here, so skill bodies stay plain functions."""

    skill: SkillInfo
    typing = True  # Celery checks the call's arity when the message is sent, before it leaves the producer.
    max_retries = None  # Organism keeps its own count: Celery's would count deferrals as attempts.

    @property
    def settings(self) -> Settings:
        return getattr(self.app, "settings", None) or get_settings()

    def before_start(self, task_id: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        run_id = tracking.run_of(self.request)
        if run_id:
            node_writer.started(self.settings.database, task_id, run_id)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        request = self.request
        if (request.delivery_info or {}).get("redelivered"):
            deliveries = tracking.count_delivery(self.settings.database, request.id)
            if deliveries > self.settings.max_deliveries:
                poison = PoisonMessage(f"{self.name} was delivered {deliveries} times (cap "
                                       f"{self.settings.max_deliveries}); every delivery lost its worker")
                self._dead_letter(poison, "poison", [_attempt(poison, Action.DEAD)], args, kwargs, deliveries)
                raise poison
        try:
            with degrade.collecting(self.skill.optional) as degraded:
                result = degrade.mark(self.run(*args, **kwargs), degraded)
        except Exception as exc:
            self._retry_or_give_up(exc, args, kwargs)
            raise
        run_id = tracking.run_of(request)
        if run_id:
            node_writer.succeeded(self.settings.database, request.id, run_id, result)
        return result

    def policy(self) -> RetryPolicy:
        """The retry policy in force: the call's header over the skill's declaration over settings."""
        return self.settings.retry.overridden(self.skill.retry).overridden(getattr(self.request, RETRY_HEADER, None))

    def _retry_or_give_up(self, exc: Exception, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        """Raise Celery's Retry when ``exc`` deserves another attempt; otherwise write the dead letter.

        Both happen before Celery sees the exception: Celery stores a failure, and so joins a chord and fires
        its errbacks, before it calls ``on_failure``; the run must already say which node failed and why.
        """
        request = self.request
        action, wait_s = classify(exc, self.skill.transient, self.skill.permanent)
        history = [*(getattr(request, ATTEMPTS_HEADER, None) or []), _attempt(exc, action)]
        policy = self.policy()
        spent = sum(1 for attempt in history[:-1] if attempt["action"] == Action.RETRY)
        if action is Action.DEAD or (action is Action.RETRY and spent >= policy.max_retries):
            deliveries = tracking.deliveries(self.settings.database, request.id)
            reason = "permanent" if action is Action.DEAD else "exhausted"
            self._dead_letter(exc, reason, history, args, kwargs, deliveries)
            return
        if action is Action.DEFER:
            countdown = min(wait_s or 0.0, self.settings.retry_after_max_s)
        else:
            countdown = retry_delay_s(policy, spent, wait_s, self.settings.retry_after_max_s)
        headers = {name: getattr(request, name) for name in CARRIED_HEADERS if getattr(request, name, None) is not None}
        raise self.retry(exc=exc, countdown=countdown, headers={**headers, ATTEMPTS_HEADER: history})

    def _dead_letter(self, exc: BaseException, reason: str, history: list[dict[str, Any]], args: tuple[Any, ...],
                     kwargs: dict[str, Any], deliveries: int) -> None:
        request = self.request
        letter = deadletter.Letter(
            task_id=request.id, task_name=self.name, organ=self.skill.organ, run_id=tracking.run_of(request),
            node=None, args=list(args), kwargs=dict(kwargs), reason=reason, error_type=type(exc).__name__,
            error_message=str(exc), traceback="".join(traceback.format_exception(exc)), attempts=history,
            delivery_count=deliveries, replay_of=getattr(request, deadletter.REPLAY_HEADER, None))
        node_writer.flush()  # this node's start, if still queued, must not land after its failure
        tracking.gave_up(self.settings.database, letter)
        deadletter.publish_copy(self.app, letter)

    def on_retry(self, exc: BaseException, task_id: str, args: tuple[Any, ...], kwargs: dict[str, Any],
                 einfo: Any) -> None:
        if tracking.run_of(self.request):
            node_writer.flush()
            tracking.node_retrying(self.settings.database, task_id, _describe(exc))


def _attempt(exc: BaseException, action: Action) -> dict[str, str]:
    return {"at": utcnow().isoformat(), "error": _describe(exc), "action": action.value}


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _validated(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    checked = validate_call(fn)
    parameters = list(inspect.signature(fn).parameters)

    def where(loc: tuple[int | str, ...]) -> str:
        # pydantic locates a positional argument by its index; people know it by its name
        head, *rest = loc or ("arguments",)
        named = parameters[head] if isinstance(head, int) and head < len(parameters) else str(head)
        return ".".join([named, *map(str, rest)])

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return checked(*args, **kwargs)
        except ValidationError as error:
            if error.title != fn.__name__:
                raise  # raised inside the body: the skill's own bug, not the caller's input
            problems = "; ".join(
                f"{where(e['loc'])}: {e['msg']} (got {e.get('input')!r})"
                for e in error.errors()
            )
            raise InvalidArguments(f"{name}: invalid arguments: {problems}") from None

    # Celery builds the send-time arity check from getfullargspec, which ignores __wrapped__ but not this.
    run.__signature__ = inspect.signature(fn)  # type: ignore[attr-defined]
    return run


def skill(*, organ: str, quadrant: str | None = None, name: str | None = None,
          effect: Effect | str = Effect.UNSAFE, retry: RetryPolicy | dict[str, Any] | None = None,
          transient: tuple[type[BaseException], ...] = (), permanent: tuple[type[BaseException], ...] = (),
          optional: tuple[str, ...] | list[str] = (), **options: Any) -> Callable[[Callable[..., Any]], SkillTask]:
    """Declare a skill of ``organ``, named ``<quadrant>p<organ index>.<function>`` unless ``name`` is given.

    Args:
        effect: ``read-only``, ``idempotent`` or ``unsafe`` (the default, the cautious guess).
        retry: retry fields this skill overrides (a :class:`RetryPolicy` or a dict of its fields).
        transient / permanent: exception classes this skill declares retryable / hopeless.
        optional: dependencies (``memory``, ``model``) the skill can do without: see organism.degrade.

    Raises:
        SkillDefinitionError: an unknown organ, effect, retry field or option, or a malformed quadrant.
    """
    organs = get_settings().organs

    def declare(fn: Callable[..., Any]) -> SkillTask:
        where = f"@skill on {fn.__module__}.{fn.__qualname__}"
        if organ not in organs:
            raise SkillDefinitionError(f"{where}: unknown organ {organ!r}; configured organs: {', '.join(organs)}")
        unknown = set(options) - CELERY_OPTIONS
        if unknown:
            raise SkillDefinitionError(f"{where}: unknown option(s) {', '.join(sorted(unknown))}; "
                                       f"allowed: {', '.join(sorted(CELERY_OPTIONS))}")
        if quadrant is not None and not (quadrant[:1] == "q" and quadrant[1:].isdigit()):
            raise SkillDefinitionError(f"{where}: quadrant must look like q1..q4, got {quadrant!r}")
        try:
            retry_fields = retry.__dict__ if isinstance(retry, RetryPolicy) else dict(retry or {})
            RetryPolicy().overridden(retry_fields)
            declared = Effect(effect)
        except ValueError as error:
            raise SkillDefinitionError(f"{where}: {error}") from None
        info = SkillInfo(organ=organ, quadrant=quadrant, description=(fn.__doc__ or "").strip().split("\n")[0],
                         effect=declared, retry=retry_fields, transient=transient, permanent=permanent,
                         optional=frozenset(optional))
        task_name = name or f"{quadrant or ''}p{organs.index(organ)}.{fn.__name__}"
        task: SkillTask = shared_task(
            _validated(task_name, fn), name=task_name, base=SkillTask, bind=False, skill=info, **options,
        )
        return task

    return declare
