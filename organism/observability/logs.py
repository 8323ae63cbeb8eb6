"""One structured log line per task outcome, secrets scrubbed from every worker log line, and JSON if asked.

The outcome line carries run id, node, task id, organ, attempt and duration as fields: in text logs they read
``key=value``; in JSON logs each is a key of the object. Arguments and results are never logged. Every record a
worker's handlers write, Celery's own "Task ... raised" lines and their tracebacks included, passes
:func:`organism.redaction.redact` first, so bearer tokens, ``sk-`` keys and values under secret-sounding names
do not reach a log.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from organism.redaction import redact

OUTCOME_LOGGER = logging.getLogger("organism.outcomes")
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

    def text(self) -> str:
        fields = " ".join(f"{name}={value}" for name, value in asdict(self).items()
                          if name not in ("skill", "outcome", "error") and value is not None)
        return f"{self.skill} {self.outcome} {fields}" + (f" error={self.error!r}" if self.error else "")


def log_outcome(line: OutcomeLine) -> None:
    """Emit the line (warning level for a failure, info otherwise), its error redacted."""
    line = OutcomeLine(**{**asdict(line), "error": redact(line.error) if line.error else None,
                          "duration_s": round(line.duration_s, 6)})
    level = logging.WARNING if line.outcome == "failed" else logging.INFO
    OUTCOME_LOGGER.log(level, "%s", line.text(), extra={FIELDS_ATTRIBUTE: asdict(line)})


class Redacting(logging.Filter):
    """Scrubs a record before a handler formats it: its message with the arguments filled in, its traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            record.msg, record.args = redact(record.getMessage()), None
        except Exception:  # a malformed record: logging reports it when it formats it
            return True
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
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


def configure(logger: logging.Logger, json_lines: bool) -> None:
    """Scrub secrets in every handler of ``logger``; with ``json_lines``, also format as JSON."""
    for handler in logger.handlers:
        if not any(isinstance(existing, Redacting) for existing in handler.filters):
            handler.addFilter(Redacting())
        if json_lines:
            handler.setFormatter(JsonFormatter())
