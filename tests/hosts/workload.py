"""What the simulated hosts run (tests/hosts, bench/hosts.py): an I/O-bound skill that leaves countable rows, a
skill that asks the model through the gateway, and the settings every host's workers share.

``test.hosts.call`` waits 20-50 ms (a call to some slow service), then applies its effect: one row per call id in
``hosts_effects``, inserted with ON CONFLICT DO NOTHING, so that a second execution of a call changes nothing.
Beside it, two append-only tables count what the cluster did: ``hosts_started`` gets a row when an execution
begins, ``hosts_executions`` one when an execution applied its effect (in the effect's transaction). Each row names
the host whose worker ran it and whether the broker had handed the message out before (``redelivered``).

The workers import this module through ``ORGANISM_TASK_MODULES``.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

from celery import current_task
from celery.result import AsyncResult
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Identity,
    MetaData,
    String,
    Table,
    delete,
    func,
    insert,
    select,
)
from sqlalchemy.dialects.postgresql import insert as upsert

from organism.gateway.client import chat
from organism.settings import Settings, get_settings
from organism.skill import skill
from organism.store import session
from organism.store.db import engine_for
from tests.support.hosts import host_of

ROOT = Path(__file__).resolve().parents[2]
ORGAN = "relationship"  # the organ the burst goes to, on a threads pool: its skills wait, they do not compute
SLOTS = 4  # threads of that organ's worker on each host
WORKER_ENV = {
    f"ORGANISM_WORKERS__{ORGAN.upper()}__BOUND": "io",
    f"ORGANISM_WORKERS__{ORGAN.upper()}__CONCURRENCY": str(SLOTS),
    "ORGANISM_WORKERS__PERCEPTION__CONCURRENCY": "1",  # three hosts, one scan each at a time: two cores
}
MODULES = [*Settings.model_fields["task_modules"].default, __name__]

metadata = MetaData()


def _trace(name: str) -> Table:
    return Table(name, metadata, Column("id", BigInteger, Identity(), primary_key=True),
                 Column("call", String(64), nullable=False, index=True), Column("host", String(32), nullable=False),
                 Column("redelivered", Boolean, nullable=False),
                 Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()))


started = _trace("hosts_started")
executions = _trace("hosts_executions")
effects = Table("hosts_effects", metadata, Column("call", String(64), primary_key=True),
                Column("host", String(32), nullable=False), Column("redelivered", Boolean, nullable=False),
                Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()))


def environment(broker_url: str, results_url: str, database_url: str) -> dict[str, str]:
    """The workers' environment: the production profile on these services, this module among the task modules,
    and the organs' pools."""
    return {"ORGANISM_PROFILE": "production", "ORGANISM_BROKER_URL": broker_url,
            "ORGANISM_RESULT_BACKEND": results_url, "ORGANISM_DATABASE_URL": database_url,
            "ORGANISM_TASK_MODULES": json.dumps(MODULES), **WORKER_ENV, "PYTHONPATH": str(ROOT)}


def create_tables(url: str) -> None:
    metadata.create_all(engine_for(url))


def clear(url: str) -> None:
    with session(url) as s:
        for table in (started, executions, effects):
            s.execute(delete(table))


def pause_ms(index: int) -> float:
    """How long call ``index`` of a burst waits: 20 to 50 ms, spread evenly."""
    return 20 + (index * 37) % 31


@skill(organ=ORGAN, name="test.hosts.call", effect="idempotent")
def call(call_id: str, pause_ms: float) -> dict[str, Any]:
    """Wait ``pause_ms``, then apply the effect of ``call_id`` (once, however often it runs); say which host ran it."""
    request = current_task.request
    row = {"call": call_id, "host": host_of(request.hostname),
           "redelivered": bool((request.delivery_info or {}).get("redelivered"))}
    url = get_settings().database
    with session(url) as s:
        s.execute(insert(started).values(row))
    time.sleep(pause_ms / 1000)
    with session(url) as s:
        s.execute(upsert(effects).values(row).on_conflict_do_nothing(index_elements=["call"]))
        s.execute(insert(executions).values(row))
    return row


@skill(organ=ORGAN, name="test.hosts.ask", effect="read-only", retry={"backoff_base_s": 0.1, "jitter": 0.0})
def ask(prompt: str) -> dict[str, Any]:
    """One model call through the gateway; the answer and the host that asked."""
    return {"content": chat([{"role": "user", "content": prompt}]).content,
            "host": host_of(current_task.request.hostname)}


def by_host(url: str, table: Table = effects) -> Counter[str]:
    """Rows of ``table`` per host."""
    with session(url) as s:
        return Counter(dict(s.execute(select(table.c.host, func.count()).group_by(table.c.host)).all()))


def calls_in(url: str, table: Table, **where: Any) -> list[str]:
    """The call ids of ``table``'s rows (one per row) whose columns equal ``where``."""
    query = select(table.c.call).where(*(table.c[name] == value for name, value in where.items()))
    with session(url) as s:
        return list(s.scalars(query))


def burst(count: int) -> dict[str, AsyncResult]:
    """Send ``count`` calls of :func:`call` through the current app; their results by call id."""
    return {f"c{i:05d}": call.delay(f"c{i:05d}", pause_ms(i)) for i in range(count)}
