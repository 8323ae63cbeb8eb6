"""Checking the trail: every entry in id order, its id, its link to the one before, its hash and its signature.

The first entry that fails a check is named with why: an id that skips (an entry deleted), a ``prev_hash`` that
is not the previous entry's hash (entries reordered or replaced), a hash that does not match the fields (an entry
edited), a signature the key does not verify (an entry re-hashed, or signed by another key). What the chain
cannot show is the newest entries deleted: keep the last hash ``verify`` reports somewhere else to check that.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select

from organism.audit.chain import GENESIS, entry_hash
from organism.audit.keys import fingerprint, verifies
from organism.store.db import session
from organism.store.models import AuditEntry

BATCH = 1000


@dataclass(frozen=True)
class Verdict:
    """What :func:`verify` found: how many entries it checked, the last good hash, and the first bad entry."""

    checked: int
    last_hash: str
    bad_id: int | None = None
    why: str | None = None

    @property
    def intact(self) -> bool:
        return self.bad_id is None

    def line(self) -> str:
        if self.bad_id is not None:
            return f"entry {self.bad_id}: {self.why}"
        return f"{self.checked} entries, chain and signatures intact"


def _gap(expected: int, found: int) -> str:
    missing = f"entry {expected}" if found == expected + 1 else f"entries {expected}–{found - 1}"
    return f"follows {expected - 1} ({missing} deleted?)" if expected > 1 else f"comes first ({missing} deleted?)"


def problem(entry: AuditEntry, expected_id: int, prev_hash: str, public: Ed25519PublicKey) -> str | None:
    """Why ``entry`` does not belong where it is, or None if it does."""
    if entry.id != expected_id:
        return _gap(expected_id, entry.id)
    if entry.prev_hash != prev_hash:
        return f"does not follow entry {entry.id - 1} (reordered or replaced?)" if entry.id > 1 else \
            "does not start the chain (entries before it deleted?)"
    if entry.hash != entry_hash(entry):
        return "hash does not match its fields (edited?)"
    if not verifies(public, entry.hash, entry.signature):
        return f"signature does not verify with {fingerprint(public)}"
    return None


def verify(url: str, public: Ed25519PublicKey) -> Verdict:
    """Check the whole trail in the store at ``url`` against the public key ``public``."""
    checked, prev_hash = 0, GENESIS
    with session(url) as s:
        for entry in s.scalars(select(AuditEntry).order_by(AuditEntry.id).execution_options(yield_per=BATCH)):
            why = problem(entry, checked + 1, prev_hash, public)
            if why is not None:
                return Verdict(checked, prev_hash, entry.id, why)
            checked, prev_hash = checked + 1, entry.hash
    return Verdict(checked, prev_hash)
