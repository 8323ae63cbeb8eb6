"""The audit trail on real SQLite and PostgreSQL stores: verify passes on an untouched trail and names the first
entry edited, deleted, reordered or signed by another key; appends from several processes at once keep one chain."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text

from organism import store
from organism.audit.append import append
from organism.audit.chain import GENESIS, entry_hash
from organism.audit.keys import fingerprint, public_path, read_public, sign
from organism.audit.verify import verify
from organism.store.db import engine_for
from organism.store.models import AuditEntry
from tests.support.services import ROOT, ensure_services, fresh_pg_database

pytestmark = pytest.mark.integration

PG_AUDIT_DATABASE = "organism_audit_test"
KEY = Ed25519PrivateKey.generate()


@pytest.fixture(scope="module")
def pg_url() -> str:
    ensure_services()
    fresh_pg_database(PG_AUDIT_DATABASE)
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{PG_AUDIT_DATABASE}"
    store.migrate(url)
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty trail in a store of each kind."""
    if request.param == "sqlite":
        found = f"sqlite:///{tmp_path / 'organism.sqlite'}"
        store.migrate(found)
    else:
        found = request.getfixturevalue("pg_url")
    _sql(found, "DELETE FROM organism_audit")
    yield found


def _sql(url: str, statement: str, **params: object) -> None:
    with engine_for(url).begin() as connection:
        connection.execute(text(statement), params)


def _fill(url: str, count: int) -> None:
    for n in range(1, count + 1):
        append(url, KEY, who="alice", source="cli@host", action="dlq.replay", target=f"dead-letter {n}",
               detail={"letter": n, "arguments": {"args": [n, "x" * n], "kwargs": {"k": 1.5}}}, outcome="ok")


def _check(url: str) -> str:
    return verify(url, KEY.public_key()).line()


def test_an_untouched_trail_verifies_and_names_its_entries_in_order(url: str) -> None:
    _fill(url, 5)

    verdict = verify(url, KEY.public_key())
    assert verdict.intact and verdict.checked == 5, verdict.line()
    assert verdict.line() == "5 entries, chain and signatures intact"
    with engine_for(url).connect() as connection:
        rows = connection.execute(text("SELECT id, prev_hash, hash FROM organism_audit ORDER BY id")).all()
    assert [row.id for row in rows] == [1, 2, 3, 4, 5]
    assert rows[0].prev_hash == GENESIS and all(b.prev_hash == a.hash for a, b in itertools.pairwise(rows))
    assert verdict.last_hash == rows[-1].hash


def test_an_edited_entry_is_named(url: str) -> None:
    _fill(url, 5)
    _sql(url, "UPDATE organism_audit SET detail = :detail WHERE id = 3", detail=json.dumps({"letter": 99}))

    assert _check(url) == "entry 3: hash does not match its fields (edited?)"


def test_an_edited_outcome_is_named_before_a_later_edit(url: str) -> None:
    _fill(url, 6)
    _sql(url, "UPDATE organism_audit SET outcome = 'failed: no' WHERE id = 5")
    _sql(url, "UPDATE organism_audit SET who = 'mallory' WHERE id = 2")

    assert _check(url) == "entry 2: hash does not match its fields (edited?)"


def test_a_deleted_entry_is_named(url: str) -> None:
    _fill(url, 5)
    _sql(url, "DELETE FROM organism_audit WHERE id = 3")

    assert _check(url) == "entry 4: follows 2 (entry 3 deleted?)"
    _sql(url, "DELETE FROM organism_audit WHERE id IN (1, 2)")
    assert _check(url) == "entry 4: comes first (entries 1–3 deleted?)"


def test_a_reordered_pair_is_named(url: str) -> None:
    _fill(url, 5)
    _sql(url, "UPDATE organism_audit SET id = -3 WHERE id = 3")
    _sql(url, "UPDATE organism_audit SET id = 3 WHERE id = 4")
    _sql(url, "UPDATE organism_audit SET id = 4 WHERE id = -3")

    assert _check(url) == "entry 3: does not follow entry 2 (reordered or replaced?)"


def test_an_entry_rewritten_and_signed_by_another_key_is_named(url: str) -> None:
    _fill(url, 5)
    other = Ed25519PrivateKey.generate()
    with store.session(url) as s:  # what someone without the deployment's key can do: edit, re-hash, re-sign
        entry = s.get(AuditEntry, 3)
        assert entry is not None
        entry.outcome = "ok: nothing happened"
        entry.hash = entry_hash(entry)
        entry.signature = sign(other, entry.hash)

    assert _check(url) == f"entry 3: signature does not verify with {fingerprint(KEY.public_key())}"


def test_a_re_signed_entry_is_named_and_the_whole_chain_fails_with_another_key(url: str) -> None:
    _fill(url, 4)
    other = Ed25519PrivateKey.generate()
    _sql(url, "UPDATE organism_audit SET signature = :signature WHERE id = 4",
         signature=sign(other, "ab" * 32))

    assert _check(url) == f"entry 4: signature does not verify with {fingerprint(KEY.public_key())}"
    assert verify(url, other.public_key()).line() == \
        f"entry 1: signature does not verify with {fingerprint(other.public_key())}"


def test_secrets_are_redacted_and_odd_text_is_stored_as_it_verifies(url: str) -> None:
    append(url, KEY, who="alice", source="cli@host", action="dlq.replay", target="dead-letter 1 token=hunter2",
           detail={"api_key": "sk-abcdefghijklmnop", "args": ["amqp://u:hunter2@host//", "nul\x00", 1e300, (1, 2)]},
           outcome="failed: ValueError: Bearer abc.def password=hunter2")

    assert _check(url) == "1 entries, chain and signatures intact"
    with engine_for(url).connect() as connection:
        stored = " ".join(str(value) for value in connection.execute(text("SELECT * FROM organism_audit")).one())
    assert "hunter2" not in stored and "sk-abcdefghijklmnop" not in stored and "abc.def" not in stored


APPENDER = """
import sys, time
from organism.audit import record
url, start_at, count, name = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
while time.time() < start_at:  # all appenders begin together
    time.sleep(0.005)
for n in range(count):
    record(url, who=name, source="test", action="test.append", target=f"{name} {n}", detail={"n": n}, outcome="ok")
"""


def test_appends_from_several_processes_at_once_keep_one_chain(url: str, tmp_path: Path) -> None:
    processes, count = 4, 25
    data_dir = tmp_path / "data"  # no key yet: the appenders also race to make it, and must all use one
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORGANISM_")} | {
        "ORGANISM_DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT)}
    start_at = time.time() + 3
    running = [subprocess.Popen([sys.executable, "-c", APPENDER, url, str(start_at), str(count), f"p{n}"], env=env,
                                stderr=subprocess.PIPE, text=True) for n in range(processes)]
    for process in running:
        _, errors = process.communicate(timeout=120)
        assert process.returncode == 0, errors

    key_files = sorted(path.name for path in data_dir.iterdir())
    assert key_files == ["audit-key.pem", "audit-key.pub.pem"], key_files
    assert (data_dir / "audit-key.pem").stat().st_mode & 0o777 == 0o600
    public = read_public(public_path(data_dir / "audit-key.pem"))
    verdict = verify(url, public)
    assert verdict.intact and verdict.checked == processes * count, verdict.line()
    with engine_for(url).connect() as connection:
        by_who = dict(connection.execute(text("SELECT who, count(*) FROM organism_audit GROUP BY who")).all())
    assert by_who == {f"p{n}": count for n in range(processes)}
