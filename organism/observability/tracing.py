"""One trace per workflow run, through OpenTelemetry, when ``ORGANISM_TRACING__OTLP_ENDPOINT`` names a collector.

The runtime calls these where a trace needs it: :func:`configure` when an app is made, :func:`run_started`
around the publication of a run's first canvas, :func:`run_resent` around a resumed or healed run's next one,
:func:`model_call` around each HTTP call to a model, :func:`dead_lettered` when a skill gives up. Tracing on,
they hand over to :mod:`organism.observability.otel`, which also follows every task through Celery's signals.
Tracing off (the default), nothing of OpenTelemetry is imported and each call is the test of one global.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from types import ModuleType, TracebackType
from typing import TYPE_CHECKING, Protocol

from organism.observability.tracing_settings import TracingSettings
from organism.settings import SettingsError

if TYPE_CHECKING:
    from organism.gateway.prices import Prices
    from organism.gateway.provider import ChatResult

_otel: ModuleType | None = None  # organism.observability.otel while this process traces
_UNTRACED = nullcontext()


def configure(settings: TracingSettings) -> None:
    """Trace this process as ``settings`` say, or stop tracing it if they name no collector. Tracing is
    per process: the settings of the last app made in it decide.

    Raises:
        SettingsError: a collector is named but the ``tracing`` extra is not installed.
    """
    global _otel
    if settings.enabled:
        try:
            from organism.observability import otel
        except ImportError as error:
            raise SettingsError(f"ORGANISM_TRACING__OTLP_ENDPOINT is set, but OpenTelemetry is not installed "
                                f"({error}): pip install 'organism[tracing]'") from None
        otel.install(settings)
        _otel = otel
    elif _otel is not None:
        _otel.uninstall()
        _otel = None


def run_started(run_id: str, key: str, workflow: str, by: str) -> AbstractContextManager[object]:
    """The run's root span, whose ids derive from ``run_id``: every span of the run is in its trace."""
    return _otel.run_started(run_id, key, workflow, by) if _otel is not None else _UNTRACED


def run_resent(run_id: str) -> AbstractContextManager[object]:
    """A span of the run, under its root, while a canvas that resumes or heals it is published."""
    return _otel.run_resent(run_id) if _otel is not None else _UNTRACED


class ModelCall(Protocol):
    def answered(self, result: ChatResult, prices: Prices) -> None:
        """Record the model that answered, the tokens and the cost."""


class _Untraced:
    def __enter__(self) -> _Untraced:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        return None

    def answered(self, result: ChatResult, prices: Prices) -> None:
        return None


_UNTRACED_CALL = _Untraced()


def model_call(endpoint: str, model: str) -> AbstractContextManager[ModelCall]:
    """The span of one chat completion asked of ``model`` at ``endpoint``, a child of the node's span."""
    return _otel.model_call(endpoint, model) if _otel is not None else _UNTRACED_CALL


def dead_lettered(reason: str, error_type: str) -> None:
    """The running task gave up (``reason``: permanent, exhausted, retry-failed): its span says so."""
    if _otel is not None:
        _otel.dead_lettered(reason, error_type)
