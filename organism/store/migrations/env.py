"""Alembic environment: the URL comes from the caller (organism.store.migrate), never from alembic.ini."""

from alembic import context
from sqlalchemy import create_engine

import organism.gateway.models  # noqa: F401  (the gateway's tables belong to the same metadata)
from organism.store.db import sqlite_connect_args
from organism.store.models import Base

url = context.config.get_main_option("sqlalchemy.url")
assert url, "organism.store.migrate sets sqlalchemy.url"
engine = create_engine(url, **sqlite_connect_args(url))
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
