"""Reachability checks for every configured URL, each with the fix when it fails."""

from __future__ import annotations

from dataclasses import dataclass

import redis
from kombu import Connection
from sqlalchemy import text

from organism.settings import Settings, masked
from organism.store import current_revision, head_revision
from organism.store.db import engine_for, sqlite_file

TIMEOUT_S = 3


@dataclass(frozen=True)
class Check:
    name: str
    url: str
    problem: str | None = None
    fix: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None

    def line(self) -> str:
        if self.ok:
            return f"ok    {self.name:<8} {self.url}"
        return f"FAIL  {self.name:<8} {self.url}: {self.problem} — {self.fix}"


_START = {
    "amqp": "start RabbitMQ (scripts/services, or `docker compose up -d rabbitmq`)",
    "redis": "start Redis (scripts/services, or `docker compose up -d redis`)",
    "postgresql": "start PostgreSQL (scripts/services, or `docker compose up -d postgres`)",
}


def _fix(url: str, setting: str) -> str:
    scheme = url.split("://", 1)[0]
    start = next((action for kind, action in _START.items() if kind in scheme), None)
    return f"{start}, or set {setting}" if start else f"check {setting}"


def check_broker(settings: Settings) -> Check:
    url = settings.broker
    if url.startswith(("sqlalchemy+", "sqla+")):
        return _check_sql("broker", url, "ORGANISM_BROKER_URL")
    try:
        with Connection(url, connect_timeout=TIMEOUT_S) as connection:
            connection.ensure_connection(max_retries=1, timeout=TIMEOUT_S)
    except Exception as error:
        return Check("broker", masked(url), _reason(error), _fix(url, "ORGANISM_BROKER_URL"))
    return Check("broker", masked(url))


def check_results(settings: Settings) -> Check:
    url = settings.results
    if url.startswith("db+"):
        return _check_sql("results", url, "ORGANISM_RESULT_BACKEND")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=TIMEOUT_S, socket_timeout=TIMEOUT_S).ping()
    except Exception as error:
        return Check("results", masked(url), _reason(error), _fix(url, "ORGANISM_RESULT_BACKEND"))
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


def _check_sql(name: str, url: str, setting: str) -> Check:
    plain = url.split("+", 1)[1] if url.startswith(("db+", "sqlalchemy+", "sqla+")) else url
    path = sqlite_file(plain)
    if path is not None and not path.parent.exists():
        return Check(name, masked(url), f"folder {path.parent} does not exist",
                     "run `organism migrate` (it creates it) or set ORGANISM_DATA_DIR")
    try:
        with engine_for(plain).connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as error:
        return Check(name, masked(url), _reason(error), _fix(plain, setting))
    return Check(name, masked(url))


def _reason(error: BaseException) -> str:
    message = str(getattr(error, "orig", None) or error).strip().splitlines()
    return f"unreachable ({message[0] if message else type(error).__name__})"


def check_all(settings: Settings) -> list[Check]:
    checks = [check_broker(settings), check_results(settings), check_store(settings)]
    if settings.memory_url:  # otherwise the memory is the store, checked above
        found = _check_sql("memory", settings.memory_url, "ORGANISM_MEMORY_URL")
        checks.append(found if found.ok else Check(found.name, found.url, found.problem,
                                                   f"{found.fix} (optional: the Daily Sync runs without it, degraded)"))
    return checks
