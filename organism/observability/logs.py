"""One structured log line per task outcome, secrets scrubbed from every worker log line, and JSON if asked.

The outcome line carries run id, node, task id, organ, attempt and duration as fields: in text logs they read
``key=value``; in JSON logs each is a key of the object. Arguments are never logged, and results only if
``log_results`` asks: :class:`HiddenResults` drops the value from Celery's "Task ... succeeded in ...: <result>"
line. Every record a worker's handlers write, Celery's own "Task ... raised" lines and their tracebacks included,
passes :func:`organism.redaction.redact_text` first, so URL passwords, bearer tokens, ``sk-`` keys and values
under secret-sounding names do not reach a log, and is cut to ``log_max_chars``, so a 10 MB argument echoed into
an error writes kilobytes, not megabytes.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from dataclasses import fields as dataclass_fields
from datetime import UTC, datetime
from typing import Any

from celery.app.trace import LOG_SUCCESS

from organism.observability.settings import ObservabilitySettings
from organism.redaction import redact, redact_text

OUTCOME_LOGGER = logging.getLogger("organism.outcomes")
TRACE_LOGGER = logging.getLogger("celery.app.trace")
FIELDS_ATTRIBUTE = "organism_fields"


@dataclass(frozen=True)
class OutcomeLine:
    """What one attempt of a task came to."""

    skill: str
    outcome: str
    task_id: str
    organ: str
    attempt: int
    duration_s: float
    run_id: str | None = None
    node: str | None = None
    error: str | None = None

    def fields(self) -> dict[str, Any]:
        """The fields by name. Every one is a plain value, so this is ``asdict`` without its recursive copy
        (run three times per task, it was a tenth of the outcome hook's time)."""
        return {field.name: getattr(self, field.name) for field in dataclass_fields(self)}

    def text(self) -> str:
        fields = " ".join(f"{name}={value}" for name, value in self.fields().items()
                          if name not in ("skill", "outcome", "error") and value is not None)
        return f"{self.skill} {self.outcome} {fields}" + (f" error={self.error!r}" if self.error else "")


def log_outcome(line: OutcomeLine, max_chars: int | None = None) -> None:
    """Emit the line (warning level for a failure, info otherwise), its error redacted and cut to ``max_chars``."""
    level = logging.WARNING if line.outcome == "failed" else logging.INFO
    if not OUTCOME_LOGGER.isEnabledFor(level):
        return
    line = replace(line, error=redact_text(line.error, max_chars) if line.error else None,
                   duration_s=round(line.duration_s, 6))
    OUTCOME_LOGGER.log(level, "%s", line.text(), extra={FIELDS_ATTRIBUTE: line.fields()})


class Redacting(logging.Filter):
    """Scrubs a record before a handler formats it: its message with the arguments filled in, its traceback,
    each cut to ``max_chars``."""

    def __init__(self, max_chars: int) -> None:
        super().__init__()
        self.max_chars = max_chars

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            record.msg, record.args = redact_text(record.getMessage(), self.max_chars), None
        except Exception:  # a malformed record: logging reports it when it formats it
            return True
        fields = getattr(record, FIELDS_ATTRIBUTE, None)
        if fields:
            setattr(record, FIELDS_ATTRIBUTE, redact(fields, self.max_chars))
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text, self.max_chars)
        return True


class HiddenResults(logging.Filter):
    """Takes the result out of Celery's "Task ... succeeded in ...: <result>" line.

    Celery has no setting for it: the line is ``celery.app.trace.LOG_SUCCESS``, logged at INFO (the level
    workers run at) with its fields as the record's arguments. A filter on the ``celery.app.trace`` logger is
    the one place that sees the record before any handler formats it, so it rewrites the format and the value.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg == LOG_SUCCESS and isinstance(record.args, dict):
            record.msg = LOG_SUCCESS.replace(": %(return_value)s", "")
            record.args = {**record.args, "return_value": None}
            data: Any = getattr(record, "data", None)  # Celery's copy of the fields, for custom handlers
            if isinstance(data, dict):
                record.data = {**data, "return_value": None}
        return True


class JsonFormatter(logging.Formatter):
    """Each record as one JSON object: time (UTC), level, logger, message, its structured fields, exception."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        document.update(getattr(record, FIELDS_ATTRIBUTE, None) or {})
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            document["exception"] = record.exc_text
        return json.dumps(document, ensure_ascii=False, default=str)


def configure(logger: logging.Logger, settings: ObservabilitySettings) -> None:
    """Scrub secrets in every handler of ``logger`` and cut long records; format as JSON if the settings say so;
    keep results out of Celery's success lines unless they say ``log_results``."""
    for handler in logger.handlers:
        if not any(isinstance(existing, Redacting) for existing in handler.filters):
            handler.addFilter(Redacting(settings.log_max_chars))
        if settings.log_format == "json":
            handler.setFormatter(JsonFormatter())
    hidden = any(isinstance(existing, HiddenResults) for existing in TRACE_LOGGER.filters)
    if not settings.log_results and not hidden:
        TRACE_LOGGER.addFilter(HiddenResults())
