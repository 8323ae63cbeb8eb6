"""Appending to the trail: one entry at a time, each after the last, whichever process writes it.

Appending reads the last entry and writes the next, so two writers must not interleave, or both would follow the
same entry and fork the chain. On PostgreSQL the appender locks the table against other appenders (``SHARE ROW
EXCLUSIVE``: readers go on) until it commits. Locking the last row ``FOR UPDATE`` would not do: a waiter is handed
that row again once the first commits (it does not look for a newer last row), and an empty table has no row to
lock. On SQLite the appender takes the file's write lock first (``BEGIN IMMEDIATE``), so no other writer can commit
between its read and its write. Ids are given, not drawn from a sequence, so they run 1, 2, 3… with no gap that
could hide a deleted entry.
"""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from organism.audit.chain import GENESIS, entry_hash
from organism.audit.keys import sign
from organism.failures.dead_letters import storable
from organism.redaction import redact, redact_text
from organism.store.db import session
from organism.store.models import AuditEntry, utcnow

DETAIL_MAX_CHARS = 65_536  # a replay's arguments beyond this are cut (the dead letter keeps them whole)
OUTCOME_MAX_CHARS = 4000


def _lock(s: Session) -> None:
    """Hold the trail's append lock until the session ends."""
    dialect = s.get_bind().dialect.name
    if dialect == "postgresql":
        s.execute(text("LOCK TABLE organism_audit IN SHARE ROW EXCLUSIVE MODE"))
    elif dialect == "sqlite":
        # pysqlite has opened no transaction yet (it does so only before a write): open one holding the lock.
        s.connection().exec_driver_sql("BEGIN IMMEDIATE")


def _fit(value: str, limit: int) -> str:
    """``value`` as a column of ``limit`` characters can hold it, NUL and lone surrogates escaped."""
    kept = storable(value, limit)
    return kept if len(kept) <= limit else kept[:limit - 1] + "…"


def append(url: str, key: Ed25519PrivateKey, *, who: str, source: str, action: str, target: str,
           detail: dict[str, Any], outcome: str) -> AuditEntry:
    """Append one entry to the trail in the store at ``url``, signed with ``key``; secrets are redacted first."""
    with session(url) as s:
        _lock(s)
        last = s.execute(select(AuditEntry.id, AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1)).first()
        entry = AuditEntry(
            id=last.id + 1 if last else 1, at=utcnow(), who=_fit(who, 64), source=_fit(source, 200),
            action=_fit(action, 50), target=_fit(redact_text(target), 200),
            detail=storable(redact(detail, DETAIL_MAX_CHARS), DETAIL_MAX_CHARS),
            outcome=_fit(redact_text(outcome, OUTCOME_MAX_CHARS), OUTCOME_MAX_CHARS + 100),
            prev_hash=last.hash if last else GENESIS)
        entry.hash = entry_hash(entry)
        entry.signature = sign(key, entry.hash)
        s.add(entry)
    return entry
