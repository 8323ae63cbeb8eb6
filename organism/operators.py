"""Named operators of the console, Flower and ``/metrics``: accounts with a role, passwords as argon2id hashes.

A ``viewer`` reads every page; an ``operator`` also acts (start, cancel, resume, replay, purge). Accounts live
in the store (:class:`~organism.store.models.Operator`) and are managed with ``organism operators``; no password
is ever stored, logged or shown, only its argon2id hash (argon2-cffi's defaults, RFC 9106's low-memory profile).
A hash made with older parameters is replaced at the next successful log-in.

Guessing is slowed per name: after :data:`FREE_FAILURES` wrong passwords in a row, each further attempt must
wait (:func:`wait_after`, doubling up to :data:`MAX_WAIT_S`) and is refused unheard until then. Every failure is
logged with the name and where it came from. An unknown name costs a hash check like a known one, so the time
of an answer does not tell which names exist.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import math
import re
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from organism.errors import OrganismError
from organism.store import session
from organism.store.db import rowcount
from organism.store.models import Operator, OperatorRole, utcnow

NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
MIN_PASSWORD_CHARS = 12
MAX_PASSWORD_CHARS = 1024  # argon2 takes any length; this only bounds the work one request can ask for
FREE_FAILURES = 3  # wrong passwords in a row answered at once: typos
FIRST_WAIT_S = 15.0
MAX_WAIT_S = 300.0
HASHER = PasswordHasher()  # argon2id
logger = logging.getLogger(__name__)
# One check at a time per process: a burst of guesses cannot slip past the count, and each check holds 64 MiB.
_checking = threading.Lock()


class OperatorError(OrganismError):
    """A bad name, role or password, or an account that does not (or already) exist: one line saying which."""


class TooManyFailures(OperatorError):
    """Too many wrong passwords for one name in a row: the next attempt is heard after ``retry_after_s``."""

    def __init__(self, name: str, wait_s: float) -> None:
        self.retry_after_s = max(1, math.ceil(wait_s))  # whole seconds, as Retry-After gives them
        super().__init__(f"too many failed log-ins as {name}: try again in {self.retry_after_s} s")


@dataclass(frozen=True)
class Account:
    """An operator as callers see it: never the hash."""

    name: str
    role: OperatorRole
    created_at: datetime
    failed_logins: int
    last_failed_at: datetime | None
    mark: str  # what a signed session keeps beside the name: it stops matching once the password changes

    @property
    def may_act(self) -> bool:
        return self.role is OperatorRole.OPERATOR


def _account(row: Operator) -> Account:
    return Account(row.name, OperatorRole(row.role), _aware(row.created_at), row.failed_logins,
                   _aware(row.last_failed_at) if row.last_failed_at else None,
                   hashlib.sha256(row.password_hash.encode()).hexdigest()[:24])


def _aware(at: datetime) -> datetime:
    # SQLite hands datetimes back without their zone; they were stored in UTC.
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


def check_name(name: str) -> str:
    if not NAME.fullmatch(name):
        raise OperatorError(f"bad operator name {name!r}: use 1 to 64 lower-case letters, digits, '.', '_' or '-', "
                            "starting with a letter or digit")
    return name


def check_role(role: str) -> OperatorRole:
    try:
        return OperatorRole(role)
    except ValueError:
        raise OperatorError(f"bad role {role!r}: choose {' or '.join(r.value for r in OperatorRole)}") from None


def check_password(password: str) -> str:
    if not MIN_PASSWORD_CHARS <= len(password) <= MAX_PASSWORD_CHARS:
        raise OperatorError(f"the password must have {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters "
                            f"(it has {len(password)})")
    return password


def add(url: str, name: str, role: str, password: str) -> Account:
    """Create the account ``name``; :class:`OperatorError` if it exists or an argument is bad."""
    row = Operator(name=check_name(name), role=check_role(role).value,
                   password_hash=HASHER.hash(check_password(password)), failed_logins=0)
    try:
        with session(url) as s:
            s.add(row)
    except IntegrityError:
        raise taken(name) from None
    return _account(row)


def taken(name: str) -> OperatorError:
    return OperatorError(f"operator {name} exists: `organism operators passwd {name}` or `role {name}` change it")


def get(url: str, name: str) -> Account | None:
    with session(url) as s:
        row = s.get(Operator, name)
        return None if row is None else _account(row)


def accounts(url: str) -> list[Account]:
    """Every account, by name."""
    with session(url) as s:
        return [_account(row) for row in s.scalars(select(Operator).order_by(Operator.name))]


def any_account(url: str) -> bool:
    with session(url) as s:
        return s.scalar(select(Operator.name).limit(1)) is not None


def remove(url: str, name: str) -> None:
    with session(url) as s:
        if not rowcount(s.execute(delete(Operator).where(Operator.name == name))):
            raise unknown(name)


def set_role(url: str, name: str, role: str) -> None:
    _change(name, url, role=check_role(role).value)


def set_password(url: str, name: str, password: str) -> None:
    """Replace ``name``'s password; it ends the account's sessions and clears its failed log-ins."""
    _change(name, url, password_hash=HASHER.hash(check_password(password)), failed_logins=0, last_failed_at=None)


def _change(name: str, url: str, **values: object) -> None:
    with session(url) as s:
        changed = s.execute(update(Operator).where(Operator.name == name).values(updated_at=utcnow(), **values))
        if not rowcount(changed):
            raise unknown(name)


def unknown(name: str) -> OperatorError:
    return OperatorError(f"no operator {name!r}; `organism operators list` shows them")


def wait_after(failures: int) -> float:
    """Seconds the next attempt must wait after ``failures`` wrong passwords in a row."""
    if failures < FREE_FAILURES:
        return 0.0
    return min(MAX_WAIT_S, FIRST_WAIT_S * 2 ** (failures - FREE_FAILURES))


def authenticate(url: str, name: str, password: str, source: str) -> Account | None:
    """The account ``name`` if ``password`` is its password, else None; the failure is counted and logged.

    Raises :class:`TooManyFailures` (without checking the password) while ``name`` must wait, see the module
    docstring. ``source`` (an address) goes into the log line; the password goes nowhere.
    """
    shown = name[:80]
    with _checking, session(url) as s:
        row = s.get(Operator, name) if NAME.fullmatch(name) else None
        if row is None:
            _matches(_dummy_hash(), password)
            logger.warning("failed log-in as unknown operator %r from %s", shown, source)
            return None
        now = utcnow()
        if row.failed_logins >= FREE_FAILURES and row.last_failed_at is not None:
            left = (_aware(row.last_failed_at) + timedelta(seconds=wait_after(row.failed_logins)) - now)
            if left.total_seconds() > 0:
                logger.warning("log-in as %r from %s refused unheard: %d failures in a row, next attempt in %.0f s",
                               shown, source, row.failed_logins, left.total_seconds())
                raise TooManyFailures(name, left.total_seconds())
        if not _matches(row.password_hash, password):
            row.failed_logins += 1
            row.last_failed_at = now
            logger.warning("failed log-in as %r from %s: wrong password, %d in a row", shown, source,
                           row.failed_logins)
            return None
        row.failed_logins, row.last_failed_at = 0, None
        if HASHER.check_needs_rehash(row.password_hash):
            row.password_hash = HASHER.hash(password)
        return _account(row)


def _matches(password_hash: str, password: str) -> bool:
    try:
        return HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@functools.cache
def _dummy_hash() -> str:
    return HASHER.hash(secrets.token_urlsafe(16))


def signed_in(url: str, name: str, mark: str) -> Account | None:
    """The account a signed session names, while it exists with the password it was signed in with."""
    with session(url) as s:
        row = s.get(Operator, name)
        if row is None or not hmac.compare_digest(_account(row).mark, mark):
            return None
        return _account(row)
