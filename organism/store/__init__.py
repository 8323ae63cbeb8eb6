"""The SQL store: runs, nodes, reports, and their Alembic migrations."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from organism.store.db import engine_for, prepare_sqlite, session

__all__ = ["current_revision", "head_revision", "migrate", "session"]

MIGRATIONS = Path(__file__).with_name("migrations")


def _config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate(url: str) -> None:
    """Bring the store at ``url`` to the newest schema (idempotent)."""
    prepare_sqlite(url)
    command.upgrade(_config(url), "head")


def head_revision() -> str | None:
    return ScriptDirectory.from_config(_config("sqlite://")).get_current_head()


def current_revision(url: str) -> str | None:
    """The schema revision the database at ``url`` is at (None if never migrated)."""
    with engine_for(url).connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
