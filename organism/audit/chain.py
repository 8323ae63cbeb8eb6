"""The hash chain: each entry's hash covers its fields, its id and time, and the hash of the entry before it.

The hash is SHA-256 over a canonical JSON of those fields (keys sorted, no spaces, the time in UTC to the
microsecond), so it is the same whether the entry was just built or read back from SQLite or PostgreSQL. Editing
any field changes it; moving an entry changes its id, and the next entry's ``prev_hash`` no longer matches.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

from organism.store.models import AuditEntry

GENESIS = "0" * 64  # the prev_hash of the first entry


def utc_text(at: datetime) -> str:
    """``at`` in UTC as ISO 8601 to the microsecond; a time without a zone (SQLite's) is UTC already."""
    at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    return at.isoformat(timespec="microseconds")


def canonical(entry: AuditEntry) -> bytes:
    """The bytes the entry's hash is taken of."""
    fields = {"id": entry.id, "at": utc_text(entry.at), "who": entry.who, "source": entry.source,
              "action": entry.action, "target": entry.target, "detail": entry.detail, "outcome": entry.outcome,
              "prev_hash": entry.prev_hash}
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def entry_hash(entry: AuditEntry) -> str:
    """The SHA-256 of the entry's canonical form, in hex: what its ``hash`` column must hold."""
    return hashlib.sha256(canonical(entry)).hexdigest()
