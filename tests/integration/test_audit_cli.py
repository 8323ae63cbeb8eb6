"""The audit trail as the command line fills and reads it: `organism dlq replay/purge`, `run`, `runs resume`,
`operators ...`, and `organism audit`, `audit verify`, `audit key`."""

from __future__ import annotations

import getpass
import json
import socket
from pathlib import Path

import pytest
from sqlalchemy import delete, text

from organism import store
from organism.audit.read import Filters, entries
from organism.store.db import engine_for
from organism.store.models import AuditEntry
from tests.conftest import Cluster
from tests.integration.test_cli import organism
from tests.integration.test_dlq_cli import _letters
from tests.observability.servers import operators_cli
from tests.support.faulty import refuse
from tests.support.services import ROOT, profile_env

pytestmark = pytest.mark.integration


def _trail(url: str) -> list[AuditEntry]:
    return list(reversed(entries(url, Filters(), 1000)))


def test_replay_and_purge_are_recorded_with_who_where_what_and_outcome(production: Cluster, tmp_path: Path) -> None:
    url = production.settings.database
    with store.session(url) as s:
        s.execute(delete(AuditEntry))
    env = production.env | {"ORGANISM_OPERATOR": "alice"}
    for reason in ("first", "token=hunter2 Bearer abc.def", "third"):
        with pytest.raises(Exception, match=r"first|token|third"):
            refuse.delay(reason).get(timeout=20)
    first, secret, third = _letters(production, 3)

    assert organism("dlq", "replay", str(secret.id), env=env).returncode == 0
    assert organism("dlq", "purge", str(first.id), env=env).returncode == 0
    refused = organism("dlq", "replay", str(first.id), env=env)
    assert refused.returncode == 1
    edited = organism("dlq", "replay", str(third.id), "--arguments",
                      '{"args": ["password=hunter3 sk-secretsecretsecret"]}', env=env)
    assert edited.returncode == 0, edited.stderr

    replayed, purged, failed, with_edits = _trail(url)
    host = f"cli@{socket.gethostname()}"
    assert (replayed.who, replayed.source, replayed.action, replayed.target) == (
        "alice", host, "dlq.replay", f"dead-letter {secret.id}")
    assert replayed.outcome.startswith(f"ok: dead letter {secret.id} replayed as task ")
    assert replayed.detail["skill"] == "test.refuse" and replayed.detail["edited"] is False
    assert replayed.detail["arguments"]["args"] == ["token=*** Bearer ***"], replayed.detail
    assert (purged.action, purged.target, purged.detail, purged.outcome) == (
        "dlq.purge", f"dead-letters {first.id}", {"ids": [first.id]}, "ok: purged 1")
    assert failed.outcome == f"failed: ReplayRefused: dead letter {first.id} was purged"
    assert with_edits.detail["edited"] is True
    assert with_edits.detail["arguments"] == {"args": ["password=*** ***"], "kwargs": {}}, with_edits.detail
    stored = json.dumps([(e.target, e.detail, e.outcome) for e in _trail(url)])
    assert "hunter" not in stored and "abc.def" not in stored and "sk-secret" not in stored

    listed = organism("audit", "--who", "alice", "--action", "dlq.purge", env=env)
    assert listed.returncode == 0, listed.stderr
    assert "dlq.purge" in listed.stdout and "dlq.replay" not in listed.stdout and "alice" in listed.stdout
    assert f"when ({production.settings.timezone})" in listed.stdout
    assert "hunter2" not in organism("audit", env=env).stdout
    assert "dlq.replay" not in organism("audit", "--since", "2100-01-01", env=env).stdout
    bad = organism("audit", "--since", "yesterday", env=env)
    assert bad.returncode == 2 and "'yesterday' is not a time like 2026-12-05" in bad.stderr

    checked = organism("audit", "verify", env=env)
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.splitlines()[0] == "4 entries, chain and signatures intact"

    kept = tmp_path / "kept.pub.pem"  # the copy an operator keeps elsewhere
    printed = organism("audit", "key", env=env)
    assert printed.stdout.startswith("-----BEGIN PUBLIC KEY-----") and "fingerprint SHA256:" in printed.stderr
    kept.write_text(printed.stdout)
    with engine_for(url).begin() as connection:
        connection.execute(text("UPDATE organism_audit SET who = 'bob' WHERE id = 2"))
    tampered = organism("audit", "verify", "--public-key", str(kept), env=env)
    assert tampered.returncode == 1
    assert tampered.stderr.strip() == "Error: entry 2: hash does not match its fields (edited?)"


def test_starting_and_resuming_runs_are_recorded_as_the_os_user(tmp_path: Path) -> None:
    env = profile_env("embedded", tmp_path) | {"PYTHONPATH": str(ROOT)}
    started = organism("run", "daily-sync", "--param", "date=2026-11-20", env=env)
    assert started.returncode == 0, started.stderr
    assert organism("run", "daily-sync", "--param", "date=2026-11-20", env=env).returncode == 0
    resumed = organism("runs", "resume", "daily-sync:2026-11-20", env=env)
    assert resumed.returncode == 1 and "only a failed run can be resumed" in resumed.stderr

    url = f"sqlite:///{tmp_path / 'organism.sqlite'}"
    first, again, resume = _trail(url)
    assert {entry.who for entry in (first, again, resume)} == {getpass.getuser()}
    assert (first.action, first.target, first.detail) == ("workflow.start", "daily-sync", {"params": {
        "date": "2026-11-20"}})
    assert first.outcome.startswith("ok: started run daily-sync:2026-11-20 (")
    assert again.outcome == "ok: run daily-sync:2026-11-20 already exists, nothing started"
    assert (resume.action, resume.target) == ("run.resume", "daily-sync:2026-11-20")
    assert resume.outcome == ("failed: CannotResume: run daily-sync:2026-11-20 is pending; only a failed run can be "
                              "resumed")
    assert (tmp_path / "audit-key.pem").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "audit-key.pub.pem").read_text().startswith("-----BEGIN PUBLIC KEY-----")

    with engine_for(url).begin() as connection:
        connection.execute(text("DELETE FROM organism_audit WHERE id = 2"))
    checked = organism("audit", "verify", env=env)
    assert checked.returncode == 1 and checked.stderr.strip() == "Error: entry 3: follows 1 (entry 2 deleted?)"


def test_a_configured_key_that_is_missing_refuses_the_action_before_it_is_done(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "key.pem"
    env = profile_env("embedded", tmp_path) | {"PYTHONPATH": str(ROOT), "ORGANISM_AUDIT_KEY_FILE": str(missing)}
    done = organism("run", "daily-sync", "--param", "date=2026-11-20", env=env)

    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert f"setting ORGANISM_AUDIT_KEY_FILE: no such file {missing}" in done.stderr
    listed = organism("runs", env=env)
    assert "daily-sync:2026-11-20" not in listed.stdout, "the run was started without being recorded"


def test_operator_changes_are_recorded_without_the_password(tmp_path: Path) -> None:
    env = profile_env("embedded", tmp_path) | {"PYTHONPATH": str(ROOT), "ORGANISM_OPERATOR": "admin"}
    password = "correct-horse-battery-staple"
    for args in (("add", "bob", "--role", "viewer", "--password-stdin"), ("role", "bob", "operator"),
                 ("passwd", "bob", "--password-stdin"), ("remove", "bob")):
        done = operators_cli(env, *args, stdin=password + "\n")
        assert done.returncode == 0, done.stderr
    gone = operators_cli(env, "role", "nobody", "viewer")
    assert gone.returncode == 1 and "Traceback" not in gone.stderr

    trail = _trail(f"sqlite:///{tmp_path / 'organism.sqlite'}")
    assert [(e.who, e.action, e.target, e.detail, e.outcome.partition(":")[0]) for e in trail] == [
        ("admin", "operator.add", "bob", {"role": "viewer"}, "ok"),
        ("admin", "operator.role", "bob", {"role": "operator"}, "ok"),
        ("admin", "operator.passwd", "bob", {}, "ok"),
        ("admin", "operator.remove", "bob", {}, "ok"),
        ("admin", "operator.role", "nobody", {"role": "viewer"}, "failed"),
    ]
    assert trail[0].outcome == "ok: added as viewer"
    assert password not in json.dumps([(e.detail, e.outcome) for e in trail])
