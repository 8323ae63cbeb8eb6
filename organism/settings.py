"""The one settings object: every other module reads it, none reads ``os.environ``.

Values come from, highest first: keyword arguments, ``ORGANISM_*`` environment variables, the TOML file named
by ``ORGANISM_CONFIG_FILE`` (default ``config/organism.toml`` if it exists), then the defaults of the profile.
A profile only supplies URLs; any URL set explicitly wins over it.
"""

from __future__ import annotations

import difflib
import enum
import functools
import os
import tomllib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Literal, get_origin
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)
from sqlalchemy.engine import make_url

from organism.failures.retry import RetryPolicy
from organism.gateway.settings import GatewaySettings
from organism.observability.settings import ObservabilitySettings
from organism.observability.tracing_settings import TracingSettings
from organism.organ_settings import OrganWorker, WorkerSettings, resolve
from organism.security.payload_settings import PayloadSettings
from organism.security.signing_settings import SigningSettings

DEFAULT_CONFIG_FILE = Path("config/organism.toml")
ORGANS = ("perception", "judgment", "relationship", "evolution")
PREFIX = "ORGANISM_"
# ORGANISM_* names that are no setting but are set on purpose: the config file's path (read before the settings
# exist) and docker-compose's own variables. Any other unknown name is refused, so that a misspelt setting cannot
# be silently ignored.
OTHER_VARIABLES = frozenset({
    "ORGANISM_CONFIG_FILE",
    "ORGANISM_BIND", "ORGANISM_FLOWER_URL", "ORGANISM_POSTGRES_PASSWORD", "ORGANISM_RABBITMQ_PASSWORD",
    "ORGANISM_SCRAPE_TOKEN",
})
# Names that were settings once, with what replaced them: naming one says so rather than only "no such setting".
_NAMED_ACCOUNTS = ("the one shared operator password is gone: unset it and create named accounts with "
                   "`organism operators add NAME --role operator`")
_PER_ORGAN = ("each organ's worker is set in one place now: [workers.<organ>] concurrency = N in the settings file, "
              "or ORGANISM_WORKERS__<ORGAN>__CONCURRENCY=N")
RETIRED = {"ORGANISM_OBSERVABILITY__USERNAME": _NAMED_ACCOUNTS, "ORGANISM_OBSERVABILITY__PASSWORD": _NAMED_ACCOUNTS,
           "ORGANISM_OPERATOR_PASSWORD": _NAMED_ACCOUNTS, "ORGANISM_WORKER_CONCURRENCY": _PER_ORGAN}


class Profile(enum.StrEnum):
    """Which brokers the URLs default to (see DESIGN.md, Topologies)."""

    EMBEDDED = "embedded"
    PRODUCTION = "production"
    REDIS = "redis"


class SettingsError(Exception):
    """A setting is missing or wrong; the message names it and says how to fix it."""


def _config_file() -> Path | None:
    # The one place besides pydantic-settings itself that looks at the environment: it must know which
    # file to read before the settings object exists.
    named = os.environ.get("ORGANISM_CONFIG_FILE")
    if named:
        return Path(named)
    return DEFAULT_CONFIG_FILE if DEFAULT_CONFIG_FILE.is_file() else None


def _config_source(settings_cls: type[BaseSettings], path: Path) -> InitSettingsSource:
    if not path.is_file():
        raise SettingsError(f"ORGANISM_CONFIG_FILE={path}: no such file; point it at a TOML file or unset it")
    try:  # the source reads the file as it is built
        source = TomlConfigSettingsSource(settings_cls, toml_file=path)
    except tomllib.TOMLDecodeError as error:  # its message ends "(at line L, column C)"
        raise SettingsError(f"{path}: not valid TOML: {error}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise SettingsError(f"{path}: cannot be read: {error}") from None
    variables = []  # each key as the variable that would set it
    for key, value in source.toml_data.items():
        variable = f"{PREFIX}{key.upper()}"
        if key in _GROUPS and isinstance(value, dict):
            variables += [f"{variable}__{part.upper()}" for part in value]
        else:
            variables.append(variable)
    unknown = unknown_variables(variables)
    if unknown:
        raise SettingsError("\n".join(f"{path}: no such setting {_toml_key(name)}{_did_you_mean(name, _toml_key)}"
                                      for name in unknown))
    data = dict(source.toml_data)
    if isinstance(data.get("sources"), list):  # relative paths are read from the file's directory
        data["sources"] = [_resolved(s, path.parent) if isinstance(s, str) else s for s in data["sources"]]
    return InitSettingsSource(settings_cls, init_kwargs=data)


def _resolved(source: str, base: Path) -> str:
    """A source as an absolute path read from ``base`` (a URL as it is)."""
    return source if "://" in source else str((base / source).resolve())


class _Environment(EnvSettingsSource):
    """The ``ORGANISM_*`` variables: a name that is no setting is refused, bad JSON names its variable."""

    def __call__(self) -> dict[str, Any]:
        unknown = unknown_variables(name for name in map(str.upper, self.env_vars) if name.startswith(PREFIX))
        if unknown:
            raise SettingsError("\n".join(f"setting {name}: no such setting"
                                          f"{_did_you_mean(name) or ' (ORGANISM_* names are reserved for settings)'}"
                                          for name in unknown))
        return super().__call__()

    def prepare_field_value(self, field_name: str, field: FieldInfo, value: Any, value_is_complex: bool) -> Any:
        try:
            return super().prepare_field_value(field_name, field, value, value_is_complex)
        except ValueError as error:  # the value of a list, tuple, mapping or group is JSON
            kind = "array" if get_origin(field.annotation) in (list, tuple) else "object"
            # The value is not shown: it may hold a secret.
            raise SettingsError(f"setting {PREFIX}{field_name.upper()}: not valid JSON ({error}); "
                                f"give a JSON {kind}") from None


class ScheduleSetting(BaseModel):
    """A workflow schedule as settings give it (organism.workflows.declaration.Schedule checks the cron and zone)."""

    model_config = {"extra": "forbid"}

    cron: str = Field(description="Five fields: minute hour day-of-month month day-of-week, e.g. '0 6 * * *'.")
    zone: str = Field(description="An IANA time zone, e.g. Europe/Berlin.")
    catch_up: Literal["all", "latest", "skip"] = "all"
    catch_up_window_h: float = Field(48, gt=0, description="How far back missed firings are still started.")
    overlap: Literal["skip", "allow"] = "skip"


class Settings(BaseSettings):
    """Everything Organism can be told. Durations are in seconds (``_s``)."""

    model_config = SettingsConfigDict(env_prefix="ORGANISM_", extra="forbid", validate_default=True,
                                      env_nested_delimiter="__")

    profile: Profile = Profile.EMBEDDED
    broker_url: str | None = Field(None, description="Celery broker URL; default from the profile.")
    result_backend: str | None = Field(None, description="Celery result backend URL; default from the profile.")
    database_url: str | None = Field(None, description="SQLAlchemy URL of the store; default from the profile.")
    memory_url: str | None = Field(None, description="SQLAlchemy URL of the long-term memory; default: the store.")
    data_dir: Path = Field(Path("var"), description="Where the embedded profile keeps its SQLite files, "
                           "and the audit key unless audit_key_file names one.")
    audit_key_file: Path | None = Field(None, description=(
        "The PEM file of the Ed25519 private key that signs the audit trail (`openssl genpkey -algorithm ed25519 "
        "-out FILE`); unset: <data_dir>/audit-key.pem, made on first use (mode 0600) with its public key beside it. "
        "Every process that acts (console, CLI) must hold the same key."))
    operator: str | None = Field(None, description="Who the audit trail records as doing what a command does; "
                                 "unset: the operating system's user.")

    timezone: str = Field("Asia/Shanghai", description="Where a day starts for budgets and the ledger (each "
                          "workflow schedule names its own zone).")
    schedules: dict[str, list[ScheduleSetting]] = Field(default_factory=dict, description=(
        "Schedules that replace a workflow's declared ones, by workflow name; an empty list runs it only by hand."))
    schedule_tick_s: float = Field(30, gt=0, le=3600, description="How often beat looks for workflow firings.")

    organs: tuple[str, ...] = ORGANS
    task_modules: tuple[str, ...] = ("tasks.perception", "tasks.relationship", "tasks.judgment",
                                     "tasks.evolution", "tasks.daily_sync", "tasks.weekly_review",
                                     "beat.schedule")
    sources: tuple[str, ...] = Field((), description=(
        "Files or URLs the Daily Sync reads unless a run names its own; none means the samples that ship with it. "
        "A relative path is read from the directory of the settings file that names it, else the working one."))

    workers: dict[str, WorkerSettings] = Field(default_factory=dict, description=(
        "Each organ's worker (pool, concurrency, prefetch, child and time limits, cluster resources and scaling), "
        "by organ; what is unset takes the organ's default (organism/organ_settings.py)."))
    task_soft_time_limit_s: float = Field(300, gt=0, description="Soft time limit of an organ that sets none.")
    task_time_limit_s: float = Field(360, gt=0, description="Hard time limit of an organ that sets none.")
    run_deadline_s: float = Field(900, gt=0, description="A run still unfinished after this is failed.")
    watchdog_interval_s: float = Field(30, gt=0, description="How often beat looks for runs past their deadline.")
    stall_grace: float = Field(0.2, gt=0, lt=1, description=(
        "How long, as a fraction of run_deadline_s, an open run may show a finished phase whose next phase never "
        "started before the watchdog resumes it, once: its chord's state was lost (Redis restarted without "
        "persistence). A chord body waiting in a long queue looks the same, so keep this above such a wait."))
    retry_max_retries: int = Field(3, ge=0, description="Retries of a transient failure after the first attempt.")
    retry_backoff_base_s: float = Field(2.0, ge=0, description="First retry delay; each later one doubles.")
    retry_backoff_max_s: float = Field(60.0, ge=0)
    retry_jitter: float = Field(0.1, ge=0, lt=1, description="Each delay varies by up to this fraction.")
    retry_after_max_s: float = Field(600.0, gt=0, description="Longest wait honoured from Retry-After.")
    max_deliveries: int = Field(3, ge=1, description="Deliveries after which a message that kills workers is dead.")
    dead_letter_max_chars: int = Field(65_536, ge=1000, description=(
        "Longest text a dead-letter record keeps of one value (an argument, the error, the traceback): a longer "
        "string keeps its head and ends in '…[truncated, <full length> chars]', and the arguments keep their "
        "first items up to this many characters, then '…[truncated, <count> items]'. A record cut this way is "
        "not replayed from the store; the whole message stays on the dead-letter queue."))
    dead_queue_max_age_s: float = Field(7 * 86_400, ge=0, description=(
        "Messages on the organism.dead queue older than this are dropped (RabbitMQ: x-message-ttl); 0 keeps "
        "them until the length cap. The dead letters' rows in the store are the durable record."))
    dead_queue_max_length: int = Field(10_000, ge=0, description=(
        "The organism.dead queue keeps at most this many messages, the oldest dropped first (RabbitMQ: "
        "x-max-length); 0: no cap."))
    max_message_bytes: int = Field(8 * 2**20, ge=1024, description="A task message with a larger body is "
                                   "dead-lettered as malformed before a worker runs it.")
    max_message_depth: int = Field(100, ge=8, le=300, description="Deepest nesting of lists and objects a task "
                                   "message may carry; deeper is dead-lettered as malformed (Python's stack "
                                   "overflows past about 450).")
    embedded_polling_interval_s: float = Field(0.05, gt=0, le=5)
    redis_visibility_timeout_s: float = Field(3600, gt=0)
    max_priority: int = Field(10, ge=1, le=255, description=(
        "x-max-priority of RabbitMQ's classic organ queues, fixed when a queue is first declared. The four priority "
        "levels are 0, 3, 6 and 9 (organism/priorities.py): below 9, critical and high share RabbitMQ's top."))
    rabbitmq_queue_type: Literal["classic", "quorum"] = Field("classic", description=(
        "How RabbitMQ declares the organ queues: classic (message priorities), or quorum (replicated, dead "
        "letters moved at least once; RabbitMQ 3.x quorum queues ignore priorities). A queue keeps the type it "
        "was declared with: switching an existing deployment is a migration (docs/deploy.md, Quorum queues)."))
    gateway: GatewaySettings = Field(default_factory=GatewaySettings)
    observability: ObservabilitySettings = Field(default_factory=ObservabilitySettings)
    tracing: TracingSettings = Field(default_factory=TracingSettings)
    signing: SigningSettings = Field(default_factory=SigningSettings)
    payloads: PayloadSettings = Field(default_factory=PayloadSettings)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}; use an IANA name such as Asia/Shanghai") from None
        return value

    @field_validator("sources")
    @classmethod
    def _absolute(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        # Resolved once, where the settings are read: a worker started elsewhere reads the same files.
        return tuple(_resolved(s, Path.cwd()) for s in value)

    @field_validator("organs")
    @classmethod
    def _organ_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value or len(set(value)) != len(value) or not all(v.isidentifier() for v in value):
            raise ValueError('organs must be distinct identifiers, e.g. ["perception", "judgment"]')
        return value

    @model_validator(mode="after")
    def _limits_fit(self) -> Settings:
        unknown = set(self.workers) - set(self.organs)
        if unknown:
            raise ValueError(f"ORGANISM_WORKERS names unknown organs {sorted(unknown)}; "
                             f"organs are {', '.join(self.organs)}")
        if self.task_soft_time_limit_s >= self.task_time_limit_s:
            raise ValueError("ORGANISM_TASK_SOFT_TIME_LIMIT_S must be below ORGANISM_TASK_TIME_LIMIT_S")
        for organ in self.organs:
            worker = self.worker(organ)
            if worker.soft_time_limit_s >= worker.time_limit_s:
                raise ValueError(f"ORGANISM_WORKERS[{organ}]: soft_time_limit_s ({worker.soft_time_limit_s:g}) must "
                                 f"be below time_limit_s ({worker.time_limit_s:g})")
            if worker.min_replicas > worker.max_replicas:
                raise ValueError(f"ORGANISM_WORKERS[{organ}]: min_replicas ({worker.min_replicas}) must not exceed "
                                 f"max_replicas ({worker.max_replicas})")
        longest = max(self.worker(organ).time_limit_s for organ in self.organs)
        if self.redis_visibility_timeout_s <= longest + self.retry_after_max_s:
            raise ValueError(f"ORGANISM_REDIS_VISIBILITY_TIMEOUT_S must exceed the longest time limit ({longest:g} s) "
                             "plus ORGANISM_RETRY_AFTER_MAX_S, or long tasks and long countdowns run twice")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, _Environment(settings_cls)]
        path = _config_file()
        if path is not None:
            sources.append(_config_source(settings_cls, path))
        return tuple(sources)

    # -- derived values -------------------------------------------------------------------------------------

    def _sqlite(self, name: str) -> str:
        return f"sqlite:///{(self.data_dir / name).resolve()}"

    @property
    def broker(self) -> str:
        """The broker URL in force."""
        if self.broker_url:
            return self.broker_url
        return {
            Profile.EMBEDDED: f"sqlalchemy+{self._sqlite('broker.sqlite')}",
            Profile.PRODUCTION: "amqp://guest:guest@127.0.0.1:5672//",
            Profile.REDIS: "redis://127.0.0.1:6379/0",
        }[self.profile]

    @property
    def results(self) -> str:
        """The result backend URL in force."""
        if self.result_backend:
            return self.result_backend
        return {
            Profile.EMBEDDED: f"db+{self._sqlite('results.sqlite')}",
            Profile.PRODUCTION: "redis://127.0.0.1:6379/1",
            Profile.REDIS: "redis://127.0.0.1:6379/1",
        }[self.profile]

    @property
    def database(self) -> str:
        """The store's SQLAlchemy URL in force."""
        if self.database_url:
            return self.database_url
        if self.profile is Profile.PRODUCTION:
            return "postgresql+psycopg://postgres@127.0.0.1:5432/organism"
        return self._sqlite("organism.sqlite")

    @property
    def memory(self) -> str:
        """The long-term memory's SQLAlchemy URL in force (past reports live in the store by default)."""
        return self.memory_url or self.database

    @property
    def retry(self) -> RetryPolicy:
        """The retry policy skills inherit unless they or the call say otherwise."""
        return RetryPolicy(max_retries=self.retry_max_retries, backoff_base_s=self.retry_backoff_base_s,
                           backoff_max_s=self.retry_backoff_max_s, jitter=self.retry_jitter)

    def worker(self, organ: str) -> OrganWorker:
        """``organ``'s worker with every value resolved (the organ's settings over its defaults)."""
        return resolve(organ, self.workers.get(organ), self.task_soft_time_limit_s, self.task_time_limit_s)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def masked(url: str) -> str:
    """The URL with any password replaced by ***. Prefixes such as ``db+`` and ``sqla+`` read as part of the
    scheme, so every URL Organism takes is parsed the same way."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url


# Settings that are groups of settings (gateway, observability, tracing), nested with the "__" delimiter.
_GROUPS = frozenset(name for name, f in Settings.model_fields.items()
                    if isinstance(f.annotation, type) and issubclass(f.annotation, BaseModel))


@functools.cache
def _variables() -> tuple[frozenset[str], tuple[str, ...]]:
    """Every ``ORGANISM_*`` name Organism reads, and the prefixes of mappings set key by key (``…_CONCURRENCY__X``)."""
    names, open_prefixes = set(OTHER_VARIABLES), []
    for name, field in Settings.model_fields.items():
        variable = f"{PREFIX}{name.upper()}"
        names.add(variable)
        if name in _GROUPS:
            assert field.annotation is not None
            names.update(f"{variable}__{part.upper()}" for part in field.annotation.model_fields)
        elif get_origin(field.annotation) is dict:
            open_prefixes.append(f"{variable}__")
    return frozenset(names), tuple(open_prefixes)


def unknown_variables(variables: Iterable[str]) -> list[str]:
    """Those of the ``ORGANISM_*`` names ``variables`` that Organism does not read, sorted."""
    names, open_prefixes = _variables()
    return sorted(v for v in variables if v not in names and not v.startswith(open_prefixes))


def _toml_key(variable: str) -> str:
    """ORGANISM_GATEWAY__MODEL as the TOML file spells it: gateway.model."""
    return variable.removeprefix(PREFIX).lower().replace("__", ".")


def _did_you_mean(variable: str, spelt: Callable[[str], str] = str) -> str:
    """"; did you mean X?" naming the setting ``variable`` looks most like (as ``spelt`` writes it), if any, or
    what replaced it if it is :data:`RETIRED`."""
    if variable in RETIRED:
        return f"; {RETIRED[variable]}"
    # Compared without the prefix all names share, and also by a group field's own name, which is what a
    # variable that forgot its group looks like (FLOWER_PORT for OBSERVABILITY__FLOWER_PORT).
    by_key: dict[str, str] = {}
    for name in sorted(_variables()[0] - OTHER_VARIABLES, key=lambda n: ("__" in n, n)):
        by_key.setdefault(name.removeprefix(PREFIX), name)
        by_key.setdefault(name.rpartition("__")[2], name)
    close = difflib.get_close_matches(variable.removeprefix(PREFIX), list(by_key), n=1)
    return f"; did you mean {spelt(by_key[close[0]])}?" if close else ""


def describe_error(error: ValidationError) -> str:
    """One line per wrong setting: its environment name, what was wrong, and the value given."""
    lines = []
    for problem in error.errors():
        if not problem["loc"]:  # a rule between settings: its message names them
            lines.append(f"settings: {problem['msg'].removeprefix('Value error, ')}")
            continue
        head, *rest = [str(part) for part in problem["loc"]]
        if head in _GROUPS and rest:  # a group's field is set as ORGANISM_<GROUP>__<FIELD>
            head, *rest = f"{head}__{rest[0]}", *rest[1:]
        where = f"ORGANISM_{head.upper()}" + "".join(f"[{part}]" for part in rest)
        if problem["type"] == "extra_forbidden":  # a keyword argument (the sources check their own names)
            lines.append(f"setting {where}: no such setting{_did_you_mean(where)}")
            continue
        given = problem.get("input")
        shown = "" if isinstance(given, dict) else f" (got {given!r})"
        lines.append(f"setting {where}: {problem['msg']}{shown}")
    return "\n".join(lines)


def load(**overrides: Any) -> Settings:
    """Build settings, turning validation errors into one :class:`SettingsError` that names each setting."""
    try:
        return Settings(**overrides)
    except ValidationError as error:
        raise SettingsError(describe_error(error)) from None


@functools.cache
def get_settings() -> Settings:
    """The process-wide settings, loaded once."""
    return load()
