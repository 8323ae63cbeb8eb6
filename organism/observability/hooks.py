"""Celery signal handlers that observe every task, so skill bodies and ``SkillTask`` stay as they are.

``organism.app`` imports this module, which connects the handlers in every process that uses the app:

* a producer (beat, the CLI, a worker publishing a chord's next step) stamps :data:`PUBLISHED_HEADER` on each
  message and sets its ``argsrepr``/``kwargsrepr`` headers, what task events, Flower and Celery's log lines show
  of the arguments, from the arguments redacted (``before_task_publish``);
* a worker's main process switches on multiprocess metrics (``worker_init``), scrubs secrets from its logs and
  formats them as JSON if configured (``after_setup_logger``), and writes its heartbeat from the moment it is
  ready (``worker_ready``);
* the pool child running a task observes the meridian latency when it starts (``task_prerun``), and when the
  attempt ends its duration by outcome, any retry, and one structured log line (``task_postrun``).

A failing hook is logged and never fails the task.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

from celery import Task, current_app, signals

from organism.errors import Deferred
from organism.headers import NODE_HEADER, PUBLISHED_HEADER, run_of
from organism.observability import events, logs
from organism.observability.health import HeartbeatWriter
from organism.observability.instruments import OTHER, Outcome, enable_multiprocess, instruments
from organism.settings import Settings, get_settings

logger = logging.getLogger(__name__)
STARTED_ATTRIBUTE = "organism_started_at"  # kept on the Celery request: it lives exactly as long as the attempt
_heartbeat: list[HeartbeatWriter] = []


def celery_options(settings: Settings) -> dict[str, Any]:
    """Celery settings this module needs: workers send task events (Flower's food) unless switched off."""
    return {"worker_send_task_events": settings.observability.task_events}


def _settings(app: Any) -> Settings:
    return getattr(app, "settings", None) or get_settings()


@signals.before_task_publish.connect
def _stamp(headers: dict[str, Any] | None = None, **_: Any) -> None:
    if headers is not None:
        headers[PUBLISHED_HEADER] = time.time()


@signals.before_task_publish.connect
def _redacted_argument_reprs(body: Any = None, headers: dict[str, Any] | None = None, **_: Any) -> None:
    # Celery has filled these headers with a plain repr of the arguments (amqp.py, as_task_v2) and offers no
    # hook to make its own: each is replaced, from the message body (protocol 2: args, kwargs, options).
    if headers is None or "argsrepr" not in headers or not isinstance(body, list | tuple) or len(body) != 3:
        return
    amqp = current_app.amqp
    headers["argsrepr"], headers["kwargsrepr"] = events.argument_reprs(
        body[0], body[1], amqp.argsrepr_maxsize, current_app.conf.task_repr_maxlevels)


@signals.worker_init.connect
def _multiprocess_metrics(sender: Any = None, **_: Any) -> None:
    settings = _settings(sender.app)
    enable_multiprocess(settings.observability.metrics_path(settings.data_dir))


@signals.after_setup_logger.connect
@signals.after_setup_task_logger.connect
def _worker_logs(logger: logging.Logger | None = None, **_: Any) -> None:
    if logger is not None:
        logs.configure(logger, _settings(current_app).observability)


@signals.worker_ready.connect
def _start_heartbeat(sender: Any = None, **_: Any) -> None:
    if _heartbeat:
        return
    settings = _settings(sender.app)
    folder = settings.observability.health_path(settings.data_dir)
    writer = HeartbeatWriter(folder, sender.hostname, sorted(sender.app.amqp.queues.consume_from),
                             settings.observability.heartbeat_interval_s)
    writer.start()
    _heartbeat.append(writer)


@signals.worker_shutdown.connect
def _stop_heartbeat(**_: Any) -> None:
    while _heartbeat:
        _heartbeat.pop().stop()


def organ_of(task: Task, settings: Settings) -> str:
    """The organ whose queue ``task`` came from (its skill's, else the routing key), or :data:`OTHER`."""
    info = getattr(task, "skill", None)
    organ = getattr(info, "organ", None) or (task.request.delivery_info or {}).get("routing_key")
    return organ if organ in settings.organs else OTHER


def due_at(request: Any) -> float | None:
    """When the message could first have started: its publish time, or its ETA if that is later."""
    published = getattr(request, PUBLISHED_HEADER, None)
    if published is None:
        return None
    eta = request.eta
    if isinstance(eta, str):
        parsed = datetime.fromisoformat(eta)
        eta = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return max(float(published), eta.timestamp()) if isinstance(eta, datetime) else float(published)


@signals.task_prerun.connect
def _started(task: Task | None = None, **_: Any) -> None:
    if task is None:
        return
    try:
        setattr(task.request, STARTED_ATTRIBUTE, time.monotonic())
        due = due_at(task.request)
        if due is not None:
            organ = organ_of(task, _settings(task.app))
            instruments().meridian_latency.labels(organ).observe(max(0.0, time.time() - due))
    except Exception:
        logger.exception("could not observe the start of task %s", getattr(task.request, "id", "?"))


def _outcome(state: str | None, retval: Any) -> tuple[Outcome, BaseException | None]:
    if state == "SUCCESS":
        degraded = isinstance(retval, dict) and retval.get("degraded")
        return (Outcome.DEGRADED if degraded else Outcome.SUCCEEDED), None
    if state == "RETRY":
        return Outcome.RETRIED, getattr(retval, "exc", None)
    if state == "FAILURE":
        return Outcome.FAILED, retval if isinstance(retval, BaseException) else None
    return Outcome.OTHER, None


@signals.task_postrun.connect
def _finished(task: Task | None = None, task_id: str | None = None, retval: Any = None, state: str | None = None,
              **_: Any) -> None:
    if task is None or task_id is None:
        return
    try:
        request, settings = task.request, _settings(task.app)
        began = getattr(request, STARTED_ATTRIBUTE, None)
        duration_s = time.monotonic() - began if began is not None else 0.0
        outcome, error = _outcome(state, retval)
        organ = organ_of(task, settings)
        measured = instruments()
        measured.skill_duration.labels(task.name, organ, outcome.value).observe(duration_s)
        if outcome is Outcome.RETRIED:
            kind = "deferred" if isinstance(error, Deferred) else "transient"
            measured.skill_retries.labels(task.name, organ, kind).inc()
        run_id = run_of(request)
        logs.log_outcome(logs.OutcomeLine(
            skill=task.name, outcome=outcome.value, task_id=task_id, organ=organ,
            attempt=int(request.retries or 0) + 1, duration_s=duration_s, run_id=run_id,
            node=getattr(request, NODE_HEADER, None) if run_id else None,
            error=f"{type(error).__name__}: {error}" if error is not None else None),
            settings.observability.log_max_chars)
    except Exception:
        logger.exception("could not observe the end of task %s", task_id)
