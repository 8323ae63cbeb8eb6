"""A counting semaphore per endpoint shared by every process on every host: rows in the SQL store, one per permit.

A permit is held under a lease: its holder id and an expiry. Acquiring takes the first free permit (no holder,
or an expired lease) with one conditional ``UPDATE``; on PostgreSQL the candidate is chosen ``FOR UPDATE SKIP
LOCKED``, so concurrent acquirers spread over the free permits instead of queueing on one row. A holder renews
its lease every third of the lease's time to live while its call runs, and releases it in ``finally``; only the
holder can (the holder id is in the ``WHERE``). A holder killed with SIGKILL stops renewing, and its permit is
free again when the lease expires.

A caller that finds no permit free gets :class:`NoPermit` (a :class:`Deferred`), and the task is retried after
``wait_s`` without spending an attempt, holding no worker slot meanwhile. Only the callers at the front of the
line, fewer than the permits, wait in their worker instead (organism.gateway.client): a release is taken within a
poll, not after a round trip through the broker, at the cost of at most ``limit`` worker slots cluster-wide. The
wait of the others is chosen so that permits stay busy without a stampede. Tasks that wait are listed as waiters,
oldest first, and the waiter with ``p`` others ahead is sent away until release number ``p`` is due. Each permit is
expected back at its acquisition time plus the endpoint's typical hold time. So each release finds about one waiter
arriving for it, and the crowd behind costs about one look at the store per waiter per turn, not a poll every few
milliseconds. A waiter that stops coming back drops out of the list after its own expiry.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.orm import Session

from organism.errors import Deferred
from organism.gateway.models import Permit, Waiter, insert_ignoring_duplicates
from organism.store import session

logger = logging.getLogger(__name__)

WAITER_GRACE_S = 2.0  # how long past its longest wait a waiter stays listed without coming back
MIN_WAIT_S = 0.01  # the shortest wait: a release that is due any moment


@dataclass
class Lease:
    """A permit held by ``holder``; ``released`` once it has been given back."""

    holder: str
    released: bool = False


class NoPermit(Deferred):
    """Every permit is held; ``position`` waiters are ahead of this caller, which is at the ``front`` of the line
    if they are fewer than the permits."""

    def __init__(self, message: str, wait_s: float, position: int, front: bool = False) -> None:
        super().__init__(message, wait_s)
        self.position = position
        self.front = front

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (str(self), self.wait_s, self.position, self.front)


class Semaphore:
    """``limit`` permits for ``endpoint`` in the store at ``url``.

    Args:
        lease_ttl_s: a permit whose holder stops renewing is free again after this.
        poll_s: how soon the first waiters try again.
        max_wait_s: the longest any waiter is told to stay away.
    """

    def __init__(self, url: str, endpoint: str, limit: int, lease_ttl_s: float, poll_s: float,
                 max_wait_s: float) -> None:
        self.url = url
        self.endpoint = endpoint
        self.limit = limit
        self.lease_ttl_s = lease_ttl_s
        self.poll_s = poll_s
        self.max_wait_s = max_wait_s
        self._ensured = False

    def acquire(self, s: Session, waiter: str | None = None, latency_s: float | None = None) -> Lease | NoPermit:
        """Take a free permit, or list ``waiter`` and say when to come back, in the caller's transaction.

        The caller commits before its call (so others see the permit taken, or the waiter listed) and raises
        the :class:`Deferred` after committing. This only writes when a permit looks free or the waiter is new
        (or its listing is running out), so a crowd of waiters mostly reads: on SQLite, writers share one lock.

        Args:
            waiter: a stable id of the caller across retries (its task id), to keep its place among waiters.
            latency_s: how long a call typically holds a permit, to tell waiters when their turn is due.
        """
        now = time.time()
        self.ensure(s)
        held_since = self._held_since(s, now)
        if len(held_since) < self.limit:
            lease = self.take(s, now)
            if lease is not None:
                if waiter is not None:
                    s.execute(delete(Waiter).where(Waiter.endpoint == self.endpoint, Waiter.waiter == waiter))
                return lease
        return self.wait(s, waiter, held_since, latency_s, now)

    def take(self, s: Session, now: float) -> Lease | None:
        """Claim the first free permit in ``s``; None if none is (another process may have been quicker)."""
        holder = uuid.uuid4().hex
        free = or_(Permit.holder.is_(None), Permit.expires_at < now)
        candidate = (select(Permit.slot).where(Permit.endpoint == self.endpoint, Permit.slot < self.limit, free)
                     .order_by(Permit.slot).limit(1).with_for_update(skip_locked=True).scalar_subquery())
        taken = s.execute(update(Permit).where(Permit.endpoint == self.endpoint, Permit.slot == candidate, free)
                          .values(holder=holder, acquired_at=now, expires_at=now + self.lease_ttl_s))
        return Lease(holder) if taken.rowcount else None  # type: ignore[attr-defined]

    def wait(self, s: Session, waiter: str | None, held_since: list[float], latency_s: float | None,
             now: float) -> NoPermit:
        """No permit for this caller: its place among the waiters (``waiter`` listed if given) and its wait."""
        position, listed = self._position(s, waiter, now)
        wait_s = self.wait_s(position, held_since, latency_s, now)
        if waiter is not None and (listed is None or listed < now + wait_s + WAITER_GRACE_S):
            self._list(s, waiter, now, listed is None)
        return NoPermit(f"all {self.limit} permits for {self.endpoint} are in use; {position} waiting ahead, "
                        f"back in {wait_s:.2f}s", wait_s, position, position < self.limit)

    def held(self, rows: list[tuple[int, str | None, float | None, float | None]], now: float) -> list[float] | None:
        """When each live lease among this endpoint's permit ``rows`` (slot, holder, acquired, expires) was taken;
        None if its permits are not all there (deleted to reset the endpoint): :meth:`ensure` them."""
        mine = [row for row in rows if row[0] < self.limit]
        if len(mine) != self.limit:
            self._ensured = False
            return None
        return [since for _, holder, since, expires in mine
                if holder is not None and since is not None and expires is not None and expires >= now]

    def ensure(self, s: Session) -> None:
        """Make this endpoint's permit rows, once per process (again after :meth:`held` found some missing)."""
        if not self._ensured:
            for slot in range(self.limit):
                insert_ignoring_duplicates(s, Permit, endpoint=self.endpoint, slot=slot)
            self._ensured = True

    @contextmanager
    def renewing(self, lease: Lease) -> Iterator[Lease]:
        """Renew ``lease`` while the block runs; then give it back unless the block already did."""
        renewer = _Renewer(self, lease.holder)
        renewer.start()
        try:
            yield lease
        finally:
            renewer.stop()
            if not lease.released:
                try:
                    with session(self.url) as s:
                        self.release(s, lease)
                except Exception:
                    logger.exception("could not release permit %s of %s; it frees itself within %.0fs",
                                     lease.holder, self.endpoint, self.lease_ttl_s)

    def renew(self, holder: str) -> bool:
        """Extend the lease by its time to live; False if it had already expired and been taken."""
        now = time.time()
        with session(self.url) as s:
            renewed = s.execute(update(Permit).where(Permit.endpoint == self.endpoint, Permit.holder == holder)
                                .values(expires_at=now + self.lease_ttl_s))
            return bool(renewed.rowcount)  # type: ignore[attr-defined]

    def release(self, s: Session, lease: Lease) -> None:
        """Give the permit back in ``s`` (a no-op if its lease expired and someone else holds it now).

        The caller sets ``lease.released`` once ``s`` has committed.
        """
        s.execute(update(Permit).where(Permit.endpoint == self.endpoint, Permit.holder == lease.holder)
                  .values(holder=None, acquired_at=None, expires_at=None))

    def wait_s(self, position: int, held_since: list[float], latency_s: float | None, now: float) -> float:
        """How long a caller with ``position`` waiters ahead of it should stay away.

        The permits' expected releases are their acquisition times plus the typical hold time (a free
        permit: now). The waiter at ``position`` is sent for release number ``position``: permit
        ``position % limit`` after ``position // limit`` more calls on it. A release due any moment is checked
        again after ``MIN_WAIT_S``; one overdue by more than ``poll_s`` (a call running long) every ``poll_s``.
        Before the first hold time is known, everyone polls, the ones further back less often.
        """
        poll_s = self.poll_s * random.uniform(0.5, 1.5)
        if latency_s is None:
            return min(self.max_wait_s, poll_s * (1 + position // self.limit))
        releases = sorted([since + latency_s for since in held_since] + [now] * (self.limit - len(held_since)))
        due_s = releases[position % self.limit] + (position // self.limit) * latency_s - now
        if due_s < -self.poll_s:
            return poll_s
        return min(self.max_wait_s, max(MIN_WAIT_S, due_s))

    def _held_since(self, s: Session, now: float) -> list[float]:
        """When each live lease was taken; missing permit rows (deleted to reset the endpoint) are made again."""
        rows = s.execute(select(Permit.slot, Permit.holder, Permit.acquired_at, Permit.expires_at)
                         .where(Permit.endpoint == self.endpoint, Permit.slot < self.limit)).all()
        held = self.held([tuple(row) for row in rows], now)  # type: ignore[misc]
        if held is None:
            self.ensure(s)
            return self._held_since(s, now)
        return held

    def _position(self, s: Session, waiter: str | None, now: float) -> tuple[int, float | None]:
        """How many live waiters are ahead of ``waiter`` (all of them if it is not listed), and its expiry."""
        ahead = select(func.count()).select_from(Waiter).where(Waiter.endpoint == self.endpoint,
                                                               Waiter.expires_at >= now)
        mine = None if waiter is None else s.execute(
            select(Waiter.since, Waiter.expires_at).where(Waiter.endpoint == self.endpoint, Waiter.waiter == waiter,
                                                          Waiter.expires_at >= now)).first()
        if mine is None:
            return s.scalar(ahead) or 0, None
        since, expires_at = mine
        earlier = or_(Waiter.since < since, and_(Waiter.since == since, Waiter.waiter < waiter))
        return s.scalar(ahead.where(earlier)) or 0, expires_at

    def _list(self, s: Session, waiter: str, now: float, new: bool) -> None:
        """Keep ``waiter`` listed until well after its longest wait (a new one goes to the back)."""
        expires_at = now + self.max_wait_s + WAITER_GRACE_S
        if not new:
            s.execute(update(Waiter).where(Waiter.endpoint == self.endpoint, Waiter.waiter == waiter)
                      .values(expires_at=expires_at))
            return
        s.execute(delete(Waiter).where(Waiter.endpoint == self.endpoint,
                                       or_(Waiter.expires_at < now, Waiter.waiter == waiter)))
        insert_ignoring_duplicates(s, Waiter, endpoint=self.endpoint, waiter=waiter, since=now,
                                   expires_at=expires_at)


class _Renewer(threading.Thread):
    """Renews one lease every third of its time to live until stopped."""

    def __init__(self, semaphore: Semaphore, holder: str) -> None:
        super().__init__(name=f"permit-renewer-{holder[:8]}", daemon=True)
        self._semaphore = semaphore
        self._holder = holder
        self._stopped = threading.Event()

    def run(self) -> None:
        while not self._stopped.wait(self._semaphore.lease_ttl_s / 3):
            try:
                if not self._semaphore.renew(self._holder):
                    logger.warning("lease %s on %s expired before its call ended (process paused longer than "
                                   "%.0fs?)", self._holder, self._semaphore.endpoint, self._semaphore.lease_ttl_s)
                    return
            except Exception:
                logger.exception("could not renew lease %s on %s; trying again", self._holder,
                                 self._semaphore.endpoint)

    def stop(self) -> None:
        self._stopped.set()
        self.join()
