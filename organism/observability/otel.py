"""OpenTelemetry's side of :mod:`organism.observability.tracing`, imported only when tracing is on.

One trace per run, wherever its parts run. A run's trace id and its root span's id are derived from the run id
(:func:`run_context`), so the starter, the worker that publishes a chord's body, and a resume or heal from
another process hours later all name the same parent without asking anyone. The root span is emitted once, by
the process that starts the run, around the publication of its first canvas (a span ends exactly once, and a
run's end happens in whichever process finishes its last node, or never; its start happens once).

Celery's OpenTelemetry instrumentation makes a producer span for each message published and a consumer span
for each task run, and carries the W3C ``traceparent`` in the message headers. Its propagator is wrapped here
(:class:`_RunPropagator`): a message that carries a run header carries its run's root span as the parent, so
every node's span is a child of the root, not of whichever task happened to publish it. The handlers below add
the node's attributes to the consumer span and retries as events; :mod:`organism.gateway.client` adds a span for
each model call, a child of the node's.

Each process exports through its own tracer provider, made on first use, so a forked pool child has its pid in
its resource and its own export thread. Spans leave through a BatchSpanProcessor (off the task's path; a child
makes its own after the fork, and flushes it when the pool stops it), with every text redacted on the way out.
"""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from celery import Task, signals
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.celery import CeleryInstrumentor
from opentelemetry.propagators.textmap import (
    CarrierT,
    Getter,
    Setter,
    TextMapPropagator,
    default_getter,
    default_setter,
)
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import Link, NonRecordingSpan, Span, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.util.types import Attributes

from organism.errors import Deferred
from organism.headers import NODE_HEADER, RUN_HEADER, run_id_of, run_of
from organism.observability.hooks import due_at, organ_of
from organism.observability.tracing_settings import TracingSettings
from organism.redaction import redact_text
from organism.settings import get_settings

if TYPE_CHECKING:
    from organism.gateway.prices import Prices
    from organism.gateway.provider import ChatResult

SCOPE = "organism"
GEN_AI_SYSTEM = "openai"  # the API the gateway speaks; server.address names who answered

_settings: TracingSettings | None = None
_sampler: TraceIdRatioBased | None = None
_process: tuple[int, TracerProvider] | None = None  # this process's provider, by pid
_lock = threading.Lock()  # around the making of the provider


def _new_lock_in_child() -> None:
    global _lock
    _lock = threading.Lock()  # the parent's may have been held by a thread the child does not have


os.register_at_fork(after_in_child=_new_lock_in_child)


def install(settings: TracingSettings) -> None:
    """Trace this process as ``settings`` say (again, if they changed: spans so far are flushed first)."""
    global _settings, _sampler
    if settings == _settings:
        return
    _shut_down()
    _settings, _sampler = settings, TraceIdRatioBased(settings.sample_ratio)
    textmap = propagate.get_global_textmap()
    if not isinstance(textmap, _RunPropagator):
        propagate.set_global_textmap(_RunPropagator(textmap))
    instrumentor = CeleryInstrumentor()
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument(tracer_provider=_ProcessTracers())
        # After the instrumentation's handlers, so that the task's span is the current one when these run.
        for signal, handler in _HANDLERS:
            signal.connect(handler, weak=False)


def uninstall() -> None:
    """Stop tracing this process, once the spans so far are sent."""
    global _settings
    _shut_down()
    _settings = None
    CeleryInstrumentor().uninstrument()
    for signal, handler in _HANDLERS:
        signal.disconnect(handler)
    textmap = propagate.get_global_textmap()
    if isinstance(textmap, _RunPropagator):
        propagate.set_global_textmap(textmap.inner)


def flush(**_: Any) -> None:
    """Send this process's finished spans now (a worker's pool child at exit, the main process at shutdown)."""
    if _process is not None and _process[0] == os.getpid():
        _process[1].force_flush()


def _shut_down() -> None:
    global _process
    if _process is not None and _process[0] == os.getpid():
        _process[1].shutdown()
    _process = None


def _provider() -> TracerProvider:
    """This process's tracer provider, made on first use: a forked child makes its own."""
    global _process
    with _lock:
        if _process is None or _process[0] != os.getpid():
            _process = (os.getpid(), _new_provider())
        return _process[1]


def _new_provider() -> TracerProvider:
    settings = _settings
    assert settings is not None and _sampler is not None, "tracing is not installed"
    resource = Resource.create({SERVICE_NAME: settings.service_name, "host.name": socket.gethostname(),
                                "process.pid": os.getpid()})
    provider = TracerProvider(resource=resource, sampler=ParentBased(_sampler), id_generator=_RunIds())
    exporter = OTLPSpanExporter(endpoint=settings.traces_url, timeout=settings.export_timeout_s,
                                headers={name: value.get_secret_value() for name, value in settings.headers.items()})
    provider.add_span_processor(BatchSpanProcessor(_Redacted(exporter)))
    return provider


class _ProcessTracers(trace.TracerProvider):
    """Tracers that start each span with this process's provider, whichever process they were made in."""

    def get_tracer(self, instrumenting_module_name: str, instrumenting_library_version: str | None = None,
                   schema_url: str | None = None, attributes: Attributes = None) -> trace.Tracer:
        return _ProcessTracer(instrumenting_module_name, instrumenting_library_version, schema_url, attributes)


class _ProcessTracer(trace.Tracer):
    def __init__(self, *scope: Any) -> None:
        self._scope = scope
        self._made: tuple[TracerProvider, trace.Tracer] | None = None

    def _tracer(self) -> trace.Tracer:
        provider = _provider()
        if self._made is None or self._made[0] is not provider:
            self._made = (provider, provider.get_tracer(*self._scope))
        return self._made[1]

    def start_span(self, *args: Any, **kwargs: Any) -> Span:
        return self._tracer().start_span(*args, **kwargs)

    @contextmanager
    def start_as_current_span(self, *args: Any, **kwargs: Any) -> Iterator[Span]:  # type: ignore[override]
        with self._tracer().start_as_current_span(*args, **kwargs) as span:
            yield span


_tracer = _ProcessTracers().get_tracer(SCOPE)


# -- one trace per run -----------------------------------------------------------------------------------------

_root_ids: ContextVar[SpanContext | None] = ContextVar("organism_root_ids", default=None)  # set while a run's root
# span is being started: the ids it takes


def run_context(run_id: str) -> SpanContext:
    """The root span of run ``run_id``: ids derived from the run id, sampled as the ratio decides for them."""
    digest = hashlib.sha256(f"organism run {run_id}".encode()).digest()
    trace_id, span_id = int.from_bytes(digest[:16]) or 1, int.from_bytes(digest[16:24]) or 1
    assert _sampler is not None, "tracing is not installed"
    sampled = _sampler.should_sample(None, trace_id, "run").decision.is_sampled()
    return SpanContext(trace_id, span_id, is_remote=True,
                       trace_flags=TraceFlags(TraceFlags.SAMPLED if sampled else TraceFlags.DEFAULT))


class _RunIds(RandomIdGenerator):
    """Random ids, except for a run's root span, which takes those of :func:`run_context`."""

    def generate_span_id(self) -> int:
        root = _root_ids.get()
        return root.span_id if root is not None else super().generate_span_id()

    def generate_trace_id(self) -> int:
        root = _root_ids.get()
        return root.trace_id if root is not None else super().generate_trace_id()


@contextmanager
def run_started(run_id: str, key: str, workflow: str, by: str) -> Iterator[None]:
    """The run's root span, current while its first canvas is published (linked to the span that started it,
    such as the task a beat firing sent)."""
    starter = trace.get_current_span().get_span_context()
    taken = _root_ids.set(run_context(run_id))
    try:
        span = _tracer.start_span(f"run {key}", context=Context(), links=[Link(starter)] if starter.is_valid else None,
                                  attributes={"organism.run_id": run_id, "organism.run_key": key,
                                              "organism.workflow": workflow, "organism.started_by": by})
    finally:
        _root_ids.reset(taken)
    with trace.use_span(span, end_on_exit=True, record_exception=False):
        yield


@contextmanager
def run_resent(run_id: str) -> Iterator[None]:
    """A span in the run's trace, under its root, while a resumed or healed run's next canvas is published."""
    parent = trace.set_span_in_context(NonRecordingSpan(run_context(run_id)))
    with _tracer.start_as_current_span("run sent again", context=parent, record_exception=False,
                                       attributes={"organism.run_id": run_id}):
        yield


class _RunPropagator(TextMapPropagator):
    """W3C trace context as configured, except that a message of a run names its run's root span as parent."""

    def __init__(self, inner: TextMapPropagator) -> None:
        self.inner = inner

    def inject(self, carrier: CarrierT, context: Context | None = None,
               setter: Setter[CarrierT] = default_setter) -> None:
        run_id = run_id_of(carrier.get(RUN_HEADER)) if isinstance(carrier, Mapping) else None
        if run_id is not None:
            context = trace.set_span_in_context(NonRecordingSpan(run_context(run_id)), context)
        self.inner.inject(carrier, context, setter)

    def extract(self, carrier: CarrierT, context: Context | None = None,
                getter: Getter[CarrierT] = default_getter) -> Context:
        return self.inner.extract(carrier, context, getter)

    @property
    def fields(self) -> set[str]:
        return self.inner.fields


# -- tasks and nodes --------------------------------------------------------------------------------------------

def _task_started(task: Task | None = None, **_: Any) -> None:
    """The task's span (the instrumentation's, current now): which skill on which organ, which attempt, how long
    its message waited; a node's also its run and name."""
    span = trace.get_current_span()
    if task is None or not span.is_recording():
        return
    request = task.request
    settings = getattr(task.app, "settings", None) or get_settings()
    attributes: dict[str, Any] = {"organism.organ": organ_of(task, settings),
                                  "organism.attempt": int(request.retries or 0) + 1}
    if getattr(task, "skill", None) is not None:
        attributes["organism.skill"] = task.name
    due = due_at(request)
    if due is not None:
        attributes["organism.queue_wait_s"] = max(0.0, time.time() - due)
    run_id, node = run_of(request), getattr(request, NODE_HEADER, None)
    if run_id is not None and isinstance(node, str):
        attributes |= {"organism.run_id": run_id, "organism.node": node}
        span.update_name(f"node {node}")
    span.set_attributes(attributes)


def _task_retried(request: Any = None, reason: Any = None, **_: Any) -> None:
    """A retry or deferral of the task, as an event of its span: what failed and when it runs again."""
    span = trace.get_current_span()
    if not span.is_recording():
        return
    error = getattr(reason, "exc", None)
    when = getattr(reason, "when", None)
    attributes: dict[str, Any] = {"organism.attempt": int(getattr(request, "retries", 0) or 0) + 1}
    if error is not None:
        attributes["exception.type"] = type(error).__name__
    if isinstance(when, int | float):
        attributes["organism.retry_in_s"] = float(when)
    span.add_event("deferred" if isinstance(error, Deferred) else "retry", attributes)


def dead_lettered(reason: str, error_type: str) -> None:
    """The current task gave up: its span says why (its error status comes with the task's failure)."""
    span = trace.get_current_span()
    span.set_attribute("organism.dead_letter_reason", reason)
    span.add_event("dead-lettered", {"organism.dead_letter_reason": reason, "exception.type": error_type})


_HANDLERS = ((signals.task_prerun, _task_started), (signals.task_retry, _task_retried),
             (signals.worker_process_shutdown, flush), (signals.worker_shutdown, flush))


# -- model calls ------------------------------------------------------------------------------------------------

class ModelCall:
    """The span of one model call: what was asked of whom, and what it cost. No prompt, reply or key."""

    def __init__(self, span: Span) -> None:
        self.span = span

    def answered(self, result: ChatResult, prices: Prices) -> None:
        usage = result.usage
        self.span.set_attributes({
            "gen_ai.response.model": result.model, "gen_ai.usage.input_tokens": usage.prompt_tokens,
            "gen_ai.usage.output_tokens": usage.completion_tokens,
            "organism.cost_usd": prices.price(result.model).cost_usd(usage.prompt_tokens, usage.completion_tokens)})


@contextmanager
def model_call(endpoint: str, model: str) -> Iterator[ModelCall]:
    """A client span for one chat completion, a child of the current (node) span; a failure is its error type."""
    where = urlsplit(endpoint)
    attributes: dict[str, Any] = {"gen_ai.operation.name": "chat", "gen_ai.system": GEN_AI_SYSTEM,
                                  "gen_ai.request.model": model, "server.address": where.hostname or "",
                                  "server.port": where.port or (443 if where.scheme == "https" else 80)}
    with _tracer.start_as_current_span(f"chat {model}", kind=SpanKind.CLIENT, attributes=attributes,
                                       record_exception=False, set_status_on_exception=False) as span:
        try:
            yield ModelCall(span)
        except BaseException as error:
            span.set_attribute("error.type", type(error).__name__)
            span.set_status(Status(StatusCode.ERROR, type(error).__name__))
            raise


# -- export -----------------------------------------------------------------------------------------------------

class _Redacted(SpanExporter):
    """Hands spans on with each text of their attributes, events and status passed through
    :func:`organism.redaction.redact_text`, as everything else Organism writes (an exception's message, say)."""

    def __init__(self, inner: SpanExporter) -> None:
        self.inner = inner

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self.inner.export([_redacted(span) for span in spans])

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self.inner.force_flush(timeout_millis)


def _redacted(span: ReadableSpan) -> ReadableSpan:
    status = span.status
    return ReadableSpan(
        name=span.name, context=span.context, parent=span.parent, resource=span.resource,
        attributes=_texts(span.attributes), links=span.links, kind=span.kind,
        events=[Event(event.name, _texts(event.attributes), event.timestamp) for event in span.events],
        status=Status(status.status_code, redact_text(status.description)) if status.description else status,
        start_time=span.start_time, end_time=span.end_time, instrumentation_scope=span.instrumentation_scope)


def _texts(attributes: Attributes) -> dict[str, Any]:
    return {name: redact_text(value) if isinstance(value, str)
            else tuple(redact_text(v) if isinstance(v, str) else v for v in value) if isinstance(value, tuple | list)
            else value for name, value in (attributes or {}).items()}
