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
import logging
import reprlib
import traceback
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from celery import Task, shared_task
from celery.exceptions import Ignore, Reject, SoftTimeLimitExceeded, TimeLimitExceeded
from pydantic import TypeAdapter, ValidationError, validate_call

from organism import expiry, headers, priorities, skill_arguments
from organism.brokers import broker_for
from organism.errors import CallOptionError, InvalidArguments, SkillDefinitionError
from organism.failures import bookkeeping, dead_letters, degrade, thread_limits, time_limits
from organism.failures.classify import Action, classify
from organism.failures.retry import RETRY_HEADER, RetryPolicy, retry_delay_s
from organism.observability import tracing
from organism.priorities import Priority
from organism.security import sealed_calls
from organism.settings import Settings, get_settings
from organism.workflows import heal, node_writer, tracking

# How many retries a call has spent (deferrals spend none). Only the count travels with the message: the history
# of its attempts is kept in the store, as a header that grew with each retry outgrew RabbitMQ's frame.
ATTEMPTS_HEADER = "organism_attempts"
# Headers a retry must carry on: Celery re-sends a task with its standard options only.
CARRIED_HEADERS = (headers.RUN_HEADER, headers.NODE_HEADER, RETRY_HEADER, dead_letters.REPLAY_HEADER)
# Celery task options a skill may set; anything else is refused at import, not at the first message.
CELERY_OPTIONS = frozenset({"soft_time_limit", "time_limit", "ignore_result"})
_POLICY = TypeAdapter(RetryPolicy)  # checks the types of a retry header's fields, which the dataclass does not
logger = logging.getLogger(__name__)


class Effect(enum.StrEnum):
    """What running a skill twice does; replaying an unsafe skill's dead letter needs --force."""

    READ_ONLY = "read-only"
    IDEMPOTENT = "idempotent"
    UNSAFE = "unsafe"


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
    sensitive: bool = False  # its arguments are sealed on the broker (organism.security.sealed_calls)
    priority: Priority = Priority.NORMAL
    ttl_s: float | None = None


class SkillTask(Task):
    """The base of every skill: bookkeeping lives here, so skill bodies stay plain functions."""

    skill: SkillInfo
    typing = True  # Celery checks the call's arity when the message is sent, before it leaves the producer.
    max_retries = None  # Organism keeps its own count: Celery's would count deferrals as attempts.
    # Every task event names the skill, for a monitor that missed task-received; a hard time limit is the skill's
    # own failure, retried or dead-lettered (failures.time_limits).
    Request = time_limits.REQUEST

    @property
    def soft_time_limit(self) -> float:
        """The organ's soft time limit (``settings.worker(organ)``); a skill that declares its own overrides it."""
        return self.settings.worker(self.skill.organ).soft_time_limit_s

    @property
    def time_limit(self) -> float:
        """The organ's hard time limit; a skill that declares its own overrides it."""
        return self.settings.worker(self.skill.organ).time_limit_s

    def _get_exec_options(self) -> dict[str, Any]:
        # Celery copies a task's time limits into every message it sends, where they outrank the worker's own. An
        # organ's limits are its workers' settings, so a message carries a limit only where the skill declares one
        # (or the call sets one): changing an organ's limits needs only its workers restarted.
        declared = vars(type(self))
        return {**super()._get_exec_options(),
                **{name: None for name in ("soft_time_limit", "time_limit") if name not in declared}}

    @property
    def settings(self) -> Settings:
        return getattr(self.app, "settings", None) or get_settings()

    def apply_async(self, args: Any = None, kwargs: Any = None, task_id: str | None = None, producer: Any = None,
                    link: Any = None, link_error: Any = None, shadow: str | None = None, **options: Any) -> Any:
        """Celery's ``apply_async``, taking a priority level's name (``priority="high"``) and a time to live
        (``ttl_s=30``, or Celery's ``expires``); what the call leaves out, the skill's declaration gives.

        A call sealed already (a retry, a chain's next step) is opened first, for Celery's arity check and to take in
        what Celery put in front of it; the app's producer seals it again (organism.security.publishing).

        Raises:
            CallOptionError: an unknown priority level, or a bad time to live (one line); nothing is sent.
        """
        if sealed_calls.is_sealed(kwargs):
            args, kwargs = sealed_calls.open_call(sealed_calls.keyring(self.settings), self.name, args, kwargs)
        try:
            given = options.get("priority")
            options["priority"] = priorities.number(self.skill.priority if given is None else given)
            options = expiry.with_ttl(options, self.skill.ttl_s)
        except CallOptionError as error:
            raise CallOptionError(f"{self.name}: {error}") from None
        return super().apply_async(args, kwargs, task_id, producer, link, link_error, shadow, **options)

    def before_start(self, task_id: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        run_id = headers.run_of(self.request)
        if run_id:
            node_writer.started(self.settings.database, task_id, run_id)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # Redeliveries are counted, and a message past the delivery cap dead-lettered, by the worker's main
        # process before the task starts (failures.bad_messages): a message can kill its worker before this runs.
        request = self.request
        if headers.run_of(request) and tracking.node_cancelled(self.app, request.id):
            logger.info("%s[%s]: its run was cancelled; not run", self.name, request.id)
            raise Ignore()
        call = sealed_calls.Opened(args, kwargs)  # nothing of a sealed call is known until it opens
        try:
            call = sealed_calls.opened(self.settings, self.name, self.skill.sensitive, args, kwargs,
                                       by_message=not (request.called_directly or request.is_eager))
            last = self._spent()[0] >= self.policy().max_retries  # a transient failure now has no retry left
            with degrade.collecting(self.skill.optional, last) as degraded, thread_limits.watched(self):
                result = call.hidden(degrade.mark(self.run(*call.args, **call.kwargs), degraded),
                                     f"{self.name}[{request.id}]")
        except Ignore:  # settled at its hard limit while its thread ran on (organism.failures.thread_limits)
            raise
        except SoftTimeLimitExceeded as exc:
            timeout = time_limits.soft_exceeded(self)
            self._retry_or_give_up(timeout, args, kwargs)
            raise timeout from exc
        except Exception as exc:
            call.hide_in(exc)
            self._retry_or_give_up(exc, args, kwargs)
            raise
        run_id = headers.run_of(request)
        if run_id:
            node_writer.succeeded(self.settings.database, request.id, run_id, result)
            if getattr(request, dead_letters.REPLAY_HEADER, None) is not None:
                node_writer.flush()  # the node's success first: the run goes on only once it is written
                heal.replayed_node_succeeded(self.app, run_id, str(getattr(request, headers.NODE_HEADER, "")))
        if request.retries:  # it was retried or deferred before: its kept attempts are not needed any more
            bookkeeping.attempts_done(self.settings.database, request.id)
        return result

    def check_call(self, args: Any, kwargs: Any) -> None:
        """Raise :class:`InvalidArguments` (one line) unless the skill accepts ``args`` and ``kwargs``; runs nothing."""
        skill_arguments.check(self.name, inspect.unwrap(self.run), args, kwargs, values=not self.skill.sensitive)

    def policy(self) -> RetryPolicy:
        """The retry policy in force: the call's header over the skill's declaration over settings."""
        return self._policy()[0]

    def _policy(self) -> tuple[RetryPolicy, str | None]:
        """The policy in force, and why the call's retry header was ignored, if it was (the skill's applies)."""
        declared = self.settings.retry.overridden(self.skill.retry)
        header = getattr(self.request, RETRY_HEADER, None)
        if header is None:
            return declared, None
        try:
            if not isinstance(header, Mapping):
                raise TypeError(f"{type(header).__name__}, not a mapping")
            checked = _POLICY.validate_python({**asdict(declared), **header})  # types; unknown names pass here
            return declared.overridden({name: getattr(checked, name, value) for name, value in header.items()}), None
        except ValidationError as error:
            why = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        except (TypeError, ValueError) as error:
            why = str(error)
        return declared, f"header {RETRY_HEADER} {reprlib.repr(header)} ignored ({why}); the skill's policy applies"

    def _spent(self) -> tuple[int, str | None]:
        """Retries this call has spent, and what was wrong with the header that says so, if anything."""
        given = getattr(self.request, ATTEMPTS_HEADER, None)
        if given is None:
            return 0, None
        if isinstance(given, int) and not isinstance(given, bool) and given >= 0:
            return given, None
        counted = bookkeeping.retries_spent(self.settings.database, self.request.id)
        return counted, f"header {ATTEMPTS_HEADER} {reprlib.repr(given)} is not a count of retries; {counted} " \
                        "counted in the store"

    def _retry_or_give_up(self, exc: Exception, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        """Raise Celery's Retry when ``exc`` deserves another attempt; otherwise write the dead letter.

        Both happen before Celery sees the exception: Celery stores a failure, and so joins a chord and fires
        its errbacks, before it calls ``on_failure``; the run must already say which node failed and why.
        A retry header that cannot be read is noted in the attempt and the skill's policy applies.
        """
        request, database = self.request, self.settings.database
        action, wait_s = classify(exc, self.skill.transient, self.skill.permanent)
        policy, policy_problem = self._policy()
        spent, spent_problem = self._spent()
        problems = [problem for problem in (policy_problem, spent_problem) if problem]
        for problem in problems:
            logger.warning("%s[%s]: %s", self.name, request.id, problem)
        error = "; ".join([_describe(exc), *problems])
        if action is Action.DEAD or (action is Action.RETRY and spent >= policy.max_retries):
            reason = "permanent" if action is Action.DEAD else "exhausted"
            self._dead_letter(exc, reason, dead_letters.attempt(action, error), args, kwargs,
                              bookkeeping.deliveries(database, request.id))
            return
        if action is Action.DEFER:
            countdown = min(wait_s or 0.0, self.settings.retry_after_max_s)
        else:
            countdown = retry_delay_s(policy, spent, wait_s, self.settings.retry_after_max_s)
        countdown = broker_for(self.settings.broker).countdown_s(self.settings, countdown)
        run_id = headers.run_of(request)
        if run_id:
            node_writer.flush()  # this node's start, if still queued, must not land after its retry
        bookkeeping.retrying(database, request.id, action, error, in_run=bool(run_id))
        carried = {name: getattr(request, name) for name in CARRIED_HEADERS if getattr(request, name, None) is not None}
        try:
            raise self.retry(exc=exc, countdown=countdown,
                             headers={**carried, ATTEMPTS_HEADER: spent + (action is Action.RETRY)})
        except Reject as refused:  # the retry could not be sent: Celery would reject the message unrecorded
            self._dead_letter(exc, "retry-failed", dead_letters.attempt(Action.DEAD, f"the retry could not be sent: "
                                                                                  f"{refused.reason!r}"),
                              args, kwargs, bookkeeping.deliveries(database, request.id))

    def _dead_letter(self, exc: BaseException, reason: str, last: dict[str, str], args: Any, kwargs: Any,
                     deliveries: int) -> None:
        """Record ``exc`` as the end of this call: the store's attempts, then ``last``; the arguments as given
        (a sensitive skill's sealed)."""
        request = self.request
        args, kwargs, replayable = sealed_calls.recorded(self.settings, self.name, self.skill.sensitive, args, kwargs)
        letter = dead_letters.Letter(
            task_id=request.id, task_name=self.name, organ=self.skill.organ, run_id=headers.run_of(request),
            node=None, args=list(args) if isinstance(args, list | tuple) else args,
            kwargs=dict(kwargs) if isinstance(kwargs, Mapping) else kwargs, reason=reason,
            error_type=type(exc).__name__, error_message=_text(exc),
            traceback="".join(traceback.format_exception(exc)), attempts=[last], delivery_count=deliveries,
            replay_of=getattr(request, dead_letters.REPLAY_HEADER, None), replayable=replayable)
        node_writer.flush()  # this node's start, if still queued, must not land after its failure
        tracing.dead_lettered(reason, letter.error_type)
        bookkeeping.gave_up(self.settings.database, letter)
        dead_letters.publish_copy(self.app, letter)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {_text(exc)}"


def _text(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:  # an exception's own __str__ can fail; the failure must still be recorded
        return f"<str() of this {type(exc).__name__} failed>"


def _validated(name: str, fn: Callable[..., Any], sensitive: bool) -> Callable[..., Any]:
    checked = validate_call(fn)
    parameters = list(inspect.signature(fn).parameters)

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return checked(*args, **kwargs)
        except ValidationError as error:
            if error.title != fn.__name__:
                raise  # raised inside the body: the skill's own bug, not the caller's input
            raise InvalidArguments(skill_arguments.describe(name, parameters, error, values=not sensitive)) from None

    # Celery builds the send-time arity check from getfullargspec, which ignores __wrapped__ but not this.
    run.__signature__ = inspect.signature(fn)  # type: ignore[attr-defined]
    return run


def skill(*, organ: str, quadrant: str | None = None, name: str | None = None,
          effect: Effect | str = Effect.UNSAFE, retry: RetryPolicy | dict[str, Any] | None = None,
          transient: tuple[type[BaseException], ...] = (), permanent: tuple[type[BaseException], ...] = (),
          optional: tuple[str, ...] | list[str] = (), priority: Priority | str = Priority.NORMAL,
          ttl_s: float | None = None, sensitive: bool = False,
          **options: Any) -> Callable[[Callable[..., Any]], SkillTask]:
    """Declare a skill of ``organ``, named ``<quadrant>p<organ index>.<function>`` unless ``name`` is given.

    Args:
        effect: ``read-only``, ``idempotent`` or ``unsafe`` (the default, the cautious guess).
        retry: retry fields this skill overrides (a :class:`RetryPolicy` or a dict of its fields).
        transient / permanent: exception classes this skill declares retryable / hopeless.
        optional: dependencies (``memory``, ``model``) the skill can do without: see organism.failures.degrade.
        sensitive: its arguments are sealed (AES-256-GCM, ``payloads.keys``) from publish to the skill's body, and
            hidden from its result, errors, logs, events and dead letter (docs/security.md).
        priority: the level of its calls: ``critical``, ``high``, ``normal`` or ``low`` (organism.priorities).
        ttl_s: seconds a call may wait for a worker before it expires (organism.expiry); None: never.

    Raises:
        SkillDefinitionError: an unknown organ, effect, retry field, priority level or option, a time to live that
            is no positive number, or a malformed quadrant.
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
        celery_limits = [kind.__name__ for kind in (*transient, *permanent)
                         if issubclass(kind, (SoftTimeLimitExceeded, TimeLimitExceeded))]
        if celery_limits:
            raise SkillDefinitionError(f"{where}: {', '.join(celery_limits)} never reaches classification; a skill "
                                       "past its time limit fails with organism.errors.SkillTimeout: declare that")
        if quadrant is not None and not (quadrant[:1] == "q" and quadrant[1:].isdigit()):
            raise SkillDefinitionError(f"{where}: quadrant must look like q1..q4, got {quadrant!r}")
        if not isinstance(sensitive, bool):
            raise SkillDefinitionError(f"{where}: sensitive must be True or False, got {sensitive!r}")
        try:
            retry_fields = retry.__dict__ if isinstance(retry, RetryPolicy) else dict(retry or {})
            RetryPolicy().overridden(retry_fields)
            declared = Effect(effect)
            level = priorities.level(priority)
            lifetime = None if ttl_s is None else expiry.ttl(ttl_s)
        except ValueError as error:
            raise SkillDefinitionError(f"{where}: {error}") from None
        info = SkillInfo(organ=organ, quadrant=quadrant, description=(fn.__doc__ or "").strip().split("\n")[0],
                         effect=declared, retry=retry_fields, transient=transient, permanent=permanent,
                         optional=frozenset(optional), priority=level, ttl_s=lifetime, sensitive=sensitive)
        task_name = name or f"{quadrant or ''}p{organs.index(organ)}.{fn.__name__}"
        task: SkillTask = shared_task(
            _validated(task_name, fn, sensitive), name=task_name, base=SkillTask, bind=False, skill=info, **options,
        )
        return task

    return declare
