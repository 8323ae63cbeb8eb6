"""Engines and sessions for the store, the same code on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

from sqlalchemy import CursorResult, Engine, Result, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_S = 30
PG_CONNECT_TIMEOUT_S = 5


class MissingFolder(Exception):
    """The folder an SQLite URL puts its file in does not exist."""

    def __init__(self, folder: Path) -> None:
        super().__init__(f"folder {folder} does not exist")
        self.folder = folder


def sqlite_file(url: str) -> Path | None:
    """The file behind an SQLite URL, or None for other databases."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def prepare_sqlite(url: str) -> None:
    """Create the folder of an SQLite file and switch it to WAL, so readers never wait for the writer.

    WAL is a property of the file, so setting it once serves every process that opens it later.
    """
    path = sqlite_file(url)
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(f"sqlite:///{path}")
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA journal_mode=WAL")
    engine.dispose()


def sqlite_connect_args(url: str) -> dict[str, Any]:
    """create_engine options that make several processes share one SQLite file without 'database is locked'."""
    return {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_S}} if sqlite_file(url) else {}


def connect_args(url: str) -> dict[str, Any]:
    """create_engine options: SQLite waits for a busy file; PostgreSQL gives up connecting after a few seconds."""
    if make_url(url).get_backend_name() == "postgresql":
        return {"connect_args": {"connect_timeout": PG_CONNECT_TIMEOUT_S}}
    return sqlite_connect_args(url)


_engines: dict[str, Engine] = {}
_factories: dict[str, sessionmaker[Session]] = {}


def engine_for(url: str) -> Engine:
    """One engine per URL and process (engines hold pools; a forked child calls :func:`forget_engines`)."""
    engine = _engines.get(url)
    if engine is None:
        engine = _engines[url] = create_engine(url, pool_pre_ping=True, **connect_args(url))
        if sqlite_file(url):
            event.listen(engine, "connect", _sqlite_foreign_keys)
    return engine


def reach(url: str) -> None:
    """Connect to the database at ``url`` once; raises what the driver raised, or :class:`MissingFolder`."""
    path = sqlite_file(url)
    if path is not None and not path.parent.exists():
        raise MissingFolder(path.parent)
    with engine_for(url).connect() as connection:
        connection.execute(text("SELECT 1"))


def _sqlite_foreign_keys(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.execute("PRAGMA foreign_keys=ON")


@contextmanager
def session(url: str) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    factory = _factories.get(url)
    if factory is None:
        factory = _factories[url] = sessionmaker(engine_for(url), expire_on_commit=False)
    with factory.begin() as s:
        yield s


def forget_engines() -> None:
    """Drop this process's engines without closing connections a parent process still uses."""
    for engine in _engines.values():
        engine.dispose(close=False)
    _engines.clear()
    _factories.clear()


def rowcount(result: Result[Any]) -> int:
    """Rows an INSERT/UPDATE/DELETE touched (SQLAlchemy types ``execute`` as returning a plain Result)."""
    return cast(CursorResult[Any], result).rowcount
