"""``organism operators`` as an administrator runs it, and the accounts it keeps: argon2id hashes only, one clear
line for each bad input, old hashes replaced at the next log-in, failures counted and slowed down per name."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select, update

from organism import operators, store
from organism.store.models import Operator
from tests.conftest import make_settings
from tests.observability.servers import operators_cli
from tests.support.services import profile_env

PASSWORD = "a-long-enough-password"


def _lines(done: object) -> list[str]:
    return done.stderr.strip().splitlines()  # type: ignore[attr-defined]


def test_add_list_role_passwd_and_remove_with_one_line_for_each_bad_input(tmp_path: Path) -> None:
    env = profile_env("embedded", tmp_path)

    added = operators_cli(env, "add", "alice", "--role", "operator", "--password-stdin", stdin=PASSWORD + "\n")
    viewer = operators_cli(env, "add", "bob.ops", "--role", "viewer", "--password-stdin", stdin=PASSWORD)
    twice = operators_cli(env, "add", "alice", "--role", "viewer", "--password-stdin", stdin=PASSWORD)
    bad_name = operators_cli(env, "add", "Alice!", "--role", "viewer", "--password-stdin", stdin=PASSWORD)
    short = operators_cli(env, "add", "carol", "--role", "viewer", "--password-stdin", stdin="short\n")
    no_role = operators_cli(env, "add", "carol", "--role", "admin", "--password-stdin", stdin=PASSWORD)
    unknown = [operators_cli(env, "remove", "zed"), operators_cli(env, "role", "zed", "viewer"),
               operators_cli(env, "passwd", "zed", "--password-stdin", stdin=PASSWORD)]
    demoted = operators_cli(env, "role", "alice", "viewer")
    changed = operators_cli(env, "passwd", "bob.ops", "--password-stdin", stdin="another-long-password")
    listed = operators_cli(env, "list")

    assert [added.stdout, viewer.stdout] == ["operator alice added as operator\n", "operator bob.ops added as viewer\n"]
    assert (demoted.stdout, changed.stdout) == ("operator alice is now viewer\n", "password of bob.ops changed\n")
    assert _lines(twice) == ["Error: operator alice exists: `organism operators passwd alice` or `role alice` "
                             "change it"]
    assert _lines(bad_name) == ["Error: bad operator name 'Alice!': use 1 to 64 lower-case letters, digits, '.', "
                                "'_' or '-', starting with a letter or digit"]
    assert _lines(short) == ["Error: the password must have 12 to 1024 characters (it has 5)"]
    assert no_role.returncode == 2 and "'admin' is not one of 'viewer', 'operator'" in no_role.stderr
    assert [_lines(done) for done in unknown] == [["Error: no operator 'zed'; `organism operators list` shows "
                                                   "them"]] * 3
    for done in (twice, bad_name, short, *unknown):
        assert done.returncode == 1 and "Traceback" not in done.stderr
    rows = [line.split() for line in listed.stdout.splitlines() if line.startswith("│")]
    assert [(row[1], row[3]) for row in rows] == [("alice", "viewer"), ("bob.ops", "viewer")]
    assert operators_cli(env, "remove", "alice").stdout == "operator alice removed\n"
    assert [account.name for account in operators.accounts(make_settings(env).database)] == ["bob.ops"]


def test_passwords_are_stored_as_argon2id_hashes_only(tmp_path: Path) -> None:
    env = profile_env("embedded", tmp_path)
    for name in ("alice", "bob"):
        done = operators_cli(env, "add", name, "--role", "operator", "--password-stdin", stdin=PASSWORD)
        assert done.returncode == 0, done.stderr

    with store.session(make_settings(env).database) as s:
        rows = list(s.execute(select(Operator)).scalars())

    assert [row.password_hash.startswith("$argon2id$") for row in rows] == [True, True]
    assert rows[0].password_hash != rows[1].password_hash, "no salt"
    assert all(PASSWORD not in str(value) for row in rows for value in vars(row).values())


@pytest.fixture
def url(tmp_path: Path) -> str:
    database = f"sqlite:///{tmp_path / 'store.sqlite'}"
    store.migrate(database)
    return database


def test_a_hash_made_with_older_parameters_is_replaced_at_the_next_log_in(url: str) -> None:
    operators.add(url, "alice", "operator", PASSWORD)
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    with store.session(url) as s:
        s.execute(update(Operator).where(Operator.name == "alice").values(password_hash=weak))

    account = operators.authenticate(url, "alice", PASSWORD, source="test")

    with store.session(url) as s:
        stored = s.scalar(select(Operator.password_hash).where(Operator.name == "alice"))
    assert account is not None and stored is not None and stored != weak
    assert not operators.HASHER.check_needs_rehash(stored)
    assert operators.authenticate(url, "alice", PASSWORD, source="test") is not None


def test_failures_are_counted_and_slowed_down_per_name_and_a_success_clears_them(
        url: str, caplog: pytest.LogCaptureFixture) -> None:
    operators.add(url, "alice", "operator", PASSWORD)
    operators.add(url, "bob", "viewer", PASSWORD)
    caplog.set_level(logging.WARNING, "organism.operators")

    for _ in range(operators.FREE_FAILURES):
        assert operators.authenticate(url, "alice", "wrong-password", source="192.0.2.7") is None
    with pytest.raises(operators.TooManyFailures, match="too many failed log-ins as alice: try again in"):
        operators.authenticate(url, "alice", PASSWORD, source="192.0.2.7")
    bob = operators.authenticate(url, "bob", PASSWORD, source="192.0.2.7")  # another name is not slowed
    assert operators.authenticate(url, "Robert'); DROP", "x", source="192.0.2.7") is None

    alice = operators.get(url, "alice")
    assert alice is not None and alice.failed_logins == operators.FREE_FAILURES
    assert bob is not None and bob.failed_logins == 0
    with store.session(url) as s:  # the wait is over
        s.execute(update(Operator).where(Operator.name == "alice").values(last_failed_at=None))
    assert operators.authenticate(url, "alice", PASSWORD, source="192.0.2.7") is not None
    assert operators.get(url, "alice").failed_logins == 0  # type: ignore[union-attr]
    messages = [record.getMessage() for record in caplog.records]
    assert "failed log-in as 'alice' from 192.0.2.7: wrong password, 3 in a row" in messages
    assert "failed log-in as unknown operator \"Robert'); DROP\" from 192.0.2.7" in messages
    assert all("wrong-password" not in message and PASSWORD not in message for message in messages)


def test_the_wait_doubles_after_the_free_failures_up_to_its_cap() -> None:
    waits = [operators.wait_after(n) for n in range(12)]

    assert waits[:operators.FREE_FAILURES] == [0.0] * operators.FREE_FAILURES
    assert waits[operators.FREE_FAILURES:operators.FREE_FAILURES + 3] == [15.0, 30.0, 60.0]
    assert max(waits) == waits[-1] == operators.MAX_WAIT_S


def test_a_session_ends_when_the_password_changes_or_the_account_goes(url: str) -> None:
    account = operators.add(url, "alice", "operator", PASSWORD)

    assert operators.signed_in(url, "alice", account.mark) == account
    operators.set_password(url, "alice", "a-new-long-password")
    assert operators.signed_in(url, "alice", account.mark) is None
    renewed = operators.get(url, "alice")
    assert renewed is not None and operators.signed_in(url, "alice", renewed.mark) is not None
    operators.remove(url, "alice")
    assert operators.signed_in(url, "alice", renewed.mark) is None
