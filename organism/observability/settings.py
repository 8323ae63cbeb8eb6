"""The observability part of the settings: ``ORGANISM_OBSERVABILITY__*`` variables or ``[observability]`` in TOML.

Named operator accounts in the store (``organism operators``, organism/operators.py) guard the console, Flower and
the metrics endpoint; the metrics endpoint also takes a scrape token, so Prometheus need not hold an operator's
password. Without an account no one can sign in, and without an account or a scrape token the exporter refuses
to start: nothing is open by accident. Durations are in seconds (``_s``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator


class ObservabilitySettings(BaseModel):
    """Where the console, Flower and the metrics exporter listen, who may use them, and how workers report."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    open_reads_on_loopback: bool = Field(default=False, description="Console pages that only read may be seen "
                                                                    "without credentials from 127.0.0.1 / ::1.")
    console_host: str = "127.0.0.1"
    console_port: int = Field(default=8800, ge=1, le=65535)
    console_secret_key: SecretStr | None = Field(default=None, description="Signs the sessions of the console "
                                                                           "and Flower; unset: a new key per "
                                                                           "process (a restart signs everyone "
                                                                           "out).")
    flower_host: str = "127.0.0.1"
    flower_port: int = Field(default=5555, ge=1, le=65535)
    flower_url: str | None = Field(default=None, description="Flower as browsers reach it, for the console's "
                                                             "links, e.g. http://127.0.0.1:5555.")
    flower_broker_api: SecretStr | None = Field(
        default=None, description="RabbitMQ's management API for Flower's Broker page, e.g. "
                                  "http://monitor:pass@rabbitmq:15672/api/; unset: the management plugin on the "
                                  "broker's host (port 15672), as the broker's user.")
    flower_kept_tasks: int = Field(default=10_000, ge=100, description="Flower remembers the events of this many "
                                                                       "of the newest tasks across restarts "
                                                                       "(<data_dir>/flower/events.jsonl).")
    flower_allow_anonymous: bool = Field(default=False, description="Run Flower without authentication.")
    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(default=9808, ge=1, le=65535)
    scrape_token: SecretStr | None = Field(
        default=None, min_length=16,
        description="A token Prometheus sends as `Authorization: Bearer <token>` (`authorization: "
                    "{credentials_file: ...}` in prometheus.yml) to scrape /metrics, instead of an operator "
                    "account, which /metrics always accepts too. With neither a token nor an account, `organism "
                    "metrics` refuses to start.")
    metrics_dir: Path | None = Field(default=None, description="Where worker processes keep their Prometheus "
                                                               "samples (default: <data_dir>/metrics).")
    health_dir: Path | None = Field(default=None, description="Where workers write heartbeats "
                                                              "(default: <data_dir>/health).")
    heartbeat_interval_s: float = Field(default=10, gt=0)
    heartbeat_max_age_s: float = Field(default=60, gt=0, description="An older heartbeat means a dead worker.")
    log_format: Literal["text", "json"] = Field(default="text", description="json: every worker log line is "
                                                                            "one JSON object.")
    log_results: bool = Field(default=False, description="Celery's \"Task ... succeeded\" line shows the result "
                                                         "(redacted); off: results are never logged.")
    log_max_chars: int = Field(default=8192, ge=256, description="Longer texts are cut to their head and tail: "
                                                                  "a log line's message and its traceback, the "
                                                                  "values of a task event, a stored error.")
    task_events: bool = Field(default=False, description="Workers send Celery task events (what Flower shows) from "
                              "the start; off, they start when a monitor asks (organism flower does, every few "
                              "seconds).")
    inspect_timeout_s: float = Field(default=1.0, gt=0, description="How long the console waits for workers "
                                                                    "to answer inspect.")

    @field_validator("console_secret_key", "scrape_token", "flower_broker_api", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        """An empty value (``SCRAPE_TOKEN=`` in a compose file) means no secret, never an empty one."""
        return None if value == "" else value

    def metrics_path(self, data_dir: Path) -> Path:
        """The worker samples' folder in force."""
        return self.metrics_dir or data_dir / "metrics"

    def health_path(self, data_dir: Path) -> Path:
        """The heartbeats' folder in force."""
        return self.health_dir or data_dir / "health"
