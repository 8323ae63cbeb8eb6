"""Reachability checks for every configured URL, each with the fix when it fails.

:func:`diagnose` tells the failures apart (refused credentials, a missing database or vhost, missing tables, a
service that does not answer); the checks and every command that touches a service (``organism.cli.context``)
report through it.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import redis
import sqlalchemy.exc
from amqp.exceptions import AccessRefused, AMQPError
from kombu import Connection
from kombu.exceptions import OperationalError as KombuOperationalError

from organism.brokers import broker_for
from organism.brokers.amqp import AmqpBroker
from organism.brokers.queues import declare_organ_queues
from organism.brokers.redis import RedisBroker
from organism.settings import Settings, masked
from organism.store import current_revision, head_revision
from organism.store.db import MissingFolder, reach

TIMEOUT_S = 3


class Fault(enum.StrEnum):
    """Why a service could not be used, as far as its error says."""

    REFUSED = "refused"  # wrong user or password
    MISSING = "missing"  # the database or vhost the URL names does not exist
    NO_TABLES = "no-tables"  # the store was never migrated
    DOWN = "down"  # nothing answers, or not in time
    OTHER = "other"


@dataclass(frozen=True)
class Check:
    name: str
    url: str
    problem: str | None = None
    fix: str | None = None
    fault: Fault | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None

    def line(self) -> str:
        if self.ok:
            return f"ok    {self.name:<8} {self.url}"
        return f"FAIL  {self.name:<8} {self.url}: {self.problem} — {self.fix}"


# How to start the server behind a results or store URL; a broker says its own (organism.brokers).
_START = {
    "redis": RedisBroker.start,
    "postgresql": "start PostgreSQL (scripts/services, or `docker compose up -d postgres`)",
}


def _start(url: str) -> str | None:
    scheme = url.split("://", 1)[0]
    return next((action for kind, action in _START.items() if kind in scheme), None)


# Servers say these in words only: PostgreSQL gives a failed connection no SQLSTATE, kombu rewraps Redis errors.
_REFUSED = re.compile(r"password authentication failed|no password supplied|role \S+ does not exist|"
                      r"permission denied|ACCESS_REFUSED|WRONGPASS|NOAUTH|invalid username-password pair")
_NO_DATABASE = re.compile(r'database "([^"]+)" does not exist')
_NO_VHOST = re.compile(r"vhost '?([^'\s]+)'? not found")
_NO_TABLE = re.compile(r"no such table|(relation|column) \S+ does not exist")
_DOWN = (OSError, KombuOperationalError, redis.ConnectionError, redis.TimeoutError, sqlalchemy.exc.OperationalError)


def diagnose(name: str, url: str, setting: str, error: BaseException, start: str | None = None) -> Check:
    """The failed check of service ``name`` at ``url`` (set by ``setting``) that ``error`` amounts to; ``start``
    says how to start the service when it does not answer (default: by the URL, for results and the store)."""
    chain = list(_causes(error))
    said = _message(chain[-1])
    shown = masked(url)
    if _REFUSED.search(said) or any(isinstance(e, (AccessRefused, redis.AuthenticationError)) for e in chain):
        return Check(name, shown, f"credentials refused ({said})", f"check the user and password in {setting}",
                     Fault.REFUSED)
    if found := _NO_DATABASE.search(said):
        return Check(name, shown, f"database {found[1]} does not exist",
                     f"create the database (createdb {found[1]}) or point {setting} at one", Fault.MISSING)
    if found := _NO_VHOST.search(said):
        return Check(name, shown, f"vhost {found[1]} does not exist",
                     f"create it (rabbitmqctl add_vhost {found[1]}) or point {setting} at one", Fault.MISSING)
    if _NO_TABLE.search(said):
        return Check(name, shown, f"tables missing ({said})", "run `organism migrate`", Fault.NO_TABLES)
    if any(isinstance(e, _DOWN) for e in chain):
        start = start or _start(url)
        fix = f"{start}, or set {setting}" if start else f"check {setting}"
        return Check(name, shown, f"unreachable ({said})", fix, Fault.DOWN)
    return Check(name, shown, f"failed ({type(chain[-1]).__name__}: {said})", f"check {setting}", Fault.OTHER)


# Which service an error comes from, by the first of these types among it and its causes: kombu wraps whatever
# its transport raised, so a Redis error that kombu did not wrap came from the result backend.
# Each row: the type, the service, the Settings property with its URL in force, the setting that changes it.
_SERVICES: tuple[tuple[type[BaseException], str, str, str], ...] = (
    (sqlalchemy.exc.DBAPIError, "store", "database", "ORGANISM_DATABASE_URL"),
    (KombuOperationalError, "broker", "broker", "ORGANISM_BROKER_URL"),
    (AMQPError, "broker", "broker", "ORGANISM_BROKER_URL"),
    (redis.RedisError, "results", "results", "ORGANISM_RESULT_BACKEND"),
)


def failed_service(settings: Settings, error: BaseException) -> Check | None:
    """The failed check a command's ``error`` amounts to; None if it is no service's, or none doctor can fix."""
    for cause in _causes(error):
        for kind, name, url, setting in _SERVICES:
            if isinstance(cause, kind):
                start = broker_for(settings.broker).start if name == "broker" else None
                found = diagnose(name, getattr(settings, url), setting, error, start)
                return None if found.fault is Fault.OTHER else found
    return None


def _causes(error: BaseException) -> Iterator[BaseException]:
    """``error`` and what it wraps, outermost first.

    SQLAlchemy keeps the driver's error as ``orig``; an error raised ``from None`` (``BrokerUnavailable``) still
    holds its cause as ``__context__``. An unsuppressed ``__context__`` is only what was being handled at the time.
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        context = current.__context__ if current.__suppress_context__ else None
        current = getattr(current, "orig", None) or current.__cause__ or context


def _message(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    first = lines[0] if lines else type(error).__name__
    return first.rpartition("FATAL:")[2].strip()  # PostgreSQL's own words, after libpq's "connection ... failed:"


def check_broker(settings: Settings) -> Check:
    """Whether the broker answers (a URL that names no broker raises :class:`~organism.settings.SettingsError`)."""
    broker = broker_for(settings.broker)
    return _check("broker", settings.broker, "ORGANISM_BROKER_URL", lambda: broker.reach(TIMEOUT_S), broker.start)


def check_results(settings: Settings) -> Check:
    url = settings.results
    if url.startswith("db+"):
        return _check_sql("results", url, "ORGANISM_RESULT_BACKEND", url.removeprefix("db+"))
    try:
        redis.Redis.from_url(url, socket_connect_timeout=TIMEOUT_S, socket_timeout=TIMEOUT_S).ping()
    except Exception as error:
        return diagnose("results", url, "ORGANISM_RESULT_BACKEND", error)
    return Check("results", masked(url))


def check_store(settings: Settings) -> Check:
    url = settings.database
    found = _check_sql("store", url, "ORGANISM_DATABASE_URL")
    if not found.ok:
        return found
    current, head = current_revision(url), head_revision()
    if current != head:
        return Check("store", masked(url), f"schema at revision {current or 'none'}, code expects {head}",
                     "run `organism migrate`")
    return found


def _check_sql(name: str, url: str, setting: str, database: str | None = None) -> Check:
    """The check of the SQL database at ``database`` (default: ``url``), shown as ``url``."""
    database = database or url
    return _check(name, url, setting, lambda: reach(database), _start(database))


def _check(name: str, url: str, setting: str, reach_once: Callable[[], None], start: str | None) -> Check:
    """The check of service ``name`` at ``url``: ``reach_once`` connects once or raises."""
    try:
        reach_once()
    except MissingFolder as missing:
        return Check(name, masked(url), str(missing), "run `organism migrate` (it creates it) or set ORGANISM_DATA_DIR")
    except Exception as error:
        return diagnose(name, url, setting, error, start)
    return Check(name, masked(url))


def check_queues(settings: Settings) -> list[Check]:
    """Whether RabbitMQ's organ queues that already exist have the arguments settings give them (the type,
    dead-lettering, priorities): a worker cannot consume a queue it may not declare. A queue not declared yet is
    left alone, so doctor creates nothing; other brokers keep no queue arguments to disagree with."""
    broker = broker_for(settings.broker)
    if not isinstance(broker, AmqpBroker):
        return []
    try:
        with Connection(broker.url, connect_timeout=TIMEOUT_S) as connection:
            refused = declare_organ_queues(connection, settings, broker, create=False)
    except Exception as error:  # e.g. a user who may not declare queues
        return [diagnose("queues", settings.broker, "ORGANISM_BROKER_URL", error, broker.start)]
    return [Check("queue", queue, f"declared earlier with other arguments ({reason})", fix)
            for queue, reason, fix in refused]


def check_all(settings: Settings) -> list[Check]:
    checks = [check_broker(settings), check_results(settings), check_store(settings)]
    if checks[0].ok:
        checks += check_queues(settings)
    if settings.memory_url:  # otherwise the memory is the store, checked above
        found = _check_sql("memory", settings.memory_url, "ORGANISM_MEMORY_URL")
        checks.append(found if found.ok else Check(found.name, found.url, found.problem,
                                                   f"{found.fix} (optional: the Daily Sync runs without it, degraded)"))
    return checks
