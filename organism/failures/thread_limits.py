"""Time limits where there is no child process to interrupt or kill: skills run by a threads or solo pool.

A prefork pool interrupts a child past its soft limit with a signal and kills it past its hard one
(:mod:`organism.failures.time_limits`); Celery's threads and solo pools apply neither. In a worker whose skills
run in its own process, a watchdog thread keeps the limits of every skill call in progress:

* **Soft.** It raises Celery's ``SoftTimeLimitExceeded`` in the skill's thread (CPython's
  ``PyThreadState_SetAsyncExc``), which :class:`~organism.skill.SkillTask` turns into ``SkillTimeout`` as on
  prefork: retried or dead-lettered by its class. Python raises it at the thread's next bytecode, so a call
  blocked in C (a socket read, ``time.sleep``) sees it only once that call returns: blocking calls need timeouts
  that end by the limit: :func:`remaining_s` gives a skill's own HTTP calls theirs (the gateway's timeouts are
  checked against the shortest soft limit when it starts).
* **Hard.** A call still running (it caught the interruption and went on, or is stuck in C) is settled as prefork
  settles a killed one (``SkillRequest.on_timeout``): a ``SkillTimeout``, retried with its message acknowledged, or
  dead-lettered with it rejected. A thread cannot be stopped, so it is abandoned: what it returns or raises later is
  dropped (``Ignore``), and its slot stays taken until it ends; the watchdog logs it.

Only the skill's body is interrupted, never the bookkeeping around it. A call that returns before the interruption
reaches it keeps its result, as does one that catches it and returns (as on prefork).
"""

from __future__ import annotations

import ctypes
import logging
import os
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from celery import signals
from celery.exceptions import Ignore, SoftTimeLimitExceeded

if TYPE_CHECKING:
    from organism.skill import SkillTask

# remaining_s adds this: a blocking call timed out by it returns just after the soft limit, so the interruption
# raised at the limit, not the call's own timeout error, is what ends the call (a SkillTimeout on every pool).
GRACE_S = 0.5
CHECK_S = 1.0  # the longest the watchdog sleeps while nothing is due sooner
logger = logging.getLogger(__name__)
_in_pool_child = False  # a prefork child: its parent applies the limits
_local = threading.local()
_settled: weakref.WeakSet[Any] = weakref.WeakSet()  # the worker requests settled at their hard limit


@signals.worker_process_init.connect
def _pool_child(**_: object) -> None:
    global _in_pool_child
    _in_pool_child = True


@dataclass(eq=False)
class _Call:
    """One skill call in progress, as its thread and the watchdog share it (under the watchdog's lock)."""

    task: SkillTask
    request: Any  # the worker's request (celery.worker.request.Request) of this call, if it has one
    thread: int
    soft_at: float  # time.monotonic() values
    hard_at: float
    soft_s: float
    hard_s: float
    active: bool = True  # its body is running: the watchdog may act on it
    interrupted: bool = False  # the soft limit was raised in its thread
    delivered: bool = False  # ... and reached it
    abandoned: bool = False  # settled at its hard limit; its thread runs on


class SoftLimit(SoftTimeLimitExceeded):
    """The soft limit as the watchdog raises it in a thread: notes that it reached the call."""

    def __init__(self, *args: object) -> None:
        super().__init__(*args)
        call = getattr(_local, "call", None)
        if call is not None:
            call.delivered = True


def _raise_in(thread: int, exc: type[BaseException] | None) -> None:
    """Make ``thread`` raise ``exc`` at its next bytecode; None takes back one not yet raised."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread), ctypes.py_object(exc) if exc else None)


class _Watchdog:
    """The thread that interrupts and settles the calls of this process past their limits."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.calls: set[_Call] = set()
        self.lock = threading.Condition()
        self.next_at = float("inf")  # when the watchdog wakes next (time.monotonic())
        threading.Thread(target=self._run, name="organism-time-limits", daemon=True).start()

    def add(self, call: _Call) -> None:
        with self.lock:
            self.calls.add(call)
            if call.soft_at < self.next_at:
                self.lock.notify()

    def _run(self) -> None:
        while True:
            with self.lock:
                now = time.monotonic()
                due = [c for c in self.calls if c.active and (c.hard_at <= now or (c.soft_at <= now
                                                                                   and not c.interrupted))]
                for call in due:
                    if call.hard_at <= now:
                        call.abandoned = True
                    else:
                        call.interrupted = True
                        _raise_in(call.thread, SoftLimit)
                # Gone: the calls abandoned, and those whose thread left them by any path.
                self.calls = {c for c in self.calls if c.active and not c.abandoned}
                if not due:
                    wait_s = min([(c.hard_at if c.interrupted else c.soft_at) - now for c in self.calls],
                                 default=None)
                    wait_s = None if wait_s is None else max(0.0, min(CHECK_S, wait_s))
                    self.next_at = now + wait_s if wait_s is not None else float("inf")
                    self.lock.wait(wait_s)
                    continue
            for call in due:  # outside the lock: settling publishes and writes the store
                if call.abandoned:
                    try:
                        _settle(call)
                    except Exception:  # the watchdog must go on for the other calls
                        logger.exception("%s[%s]: settling the call past its hard time limit failed",
                                         call.task.name, call.request.id)


def _settle(call: _Call) -> None:
    """Settle a call past its hard limit as prefork settles a killed one; its thread is abandoned."""
    logger.error("%s[%s]: still running at its hard time limit of %g s; its thread cannot be stopped and is "
                 "abandoned (whatever it returns is dropped; its slot is taken until it ends)", call.task.name,
                 call.request.id, call.hard_s)
    _settled.add(call.request)
    call.request.on_timeout(False, call.hard_s)


def accepted(request: Any, pid: int) -> None:
    """The worker's ``request`` is about to run in process ``pid``, in this thread if that is this process."""
    if pid == os.getpid():
        _local.request = request


def settled(request: Any) -> bool:
    """Whether the worker's ``request`` was settled at its hard limit while its thread ran on (what it ends with
    later is dropped)."""
    return request in _settled


_watchdog: _Watchdog | None = None
_watchdog_lock = threading.Lock()


def _current() -> _Watchdog:
    global _watchdog
    with _watchdog_lock:
        if _watchdog is None or _watchdog.pid != os.getpid():
            _watchdog = _Watchdog()
        return _watchdog


def remaining_s() -> float | None:
    """The timeout for a blocking call of the running skill call: the seconds left before its soft time limit, plus
    :data:`GRACE_S`; None outside a skill call.

    On prefork the limit's signal ends a blocked call at the limit itself; in a thread the interruption waits for
    the call to return, which this timeout makes it do just after the limit.
    """
    started = getattr(_local, "started", None)
    if started is None:
        return None
    task, began = started
    return max(0.0, began + limits_s(task)[0] - time.monotonic()) + GRACE_S


def limits_s(task: SkillTask) -> tuple[float, float]:
    """The (soft, hard) limits of ``task``'s current call: the call's own, else the skill's or its organ's."""
    hard, soft = task.request.timelimit or (None, None)
    return float(soft or task.soft_time_limit), float(hard or task.time_limit)


@contextmanager
def watched(task: SkillTask) -> Iterator[None]:
    """Run the body of ``task``'s current call under its time limits: set :func:`remaining_s`, and where no pool
    child applies them (a threads or solo pool), have the watchdog apply them.

    Raises:
        SoftTimeLimitExceeded: the soft limit interrupted the body.
        Ignore: the call was settled at its hard limit meanwhile (by the watchdog: retried or dead-lettered).
    """
    context, began = task.request, time.monotonic()
    request, _local.request = getattr(_local, "request", None), None
    _local.started = (task, began)  # remaining_s reads the limits only if asked: most calls never ask
    if _in_pool_child or request is None or request.id != context.id:  # a pool child's, or a direct call
        try:
            yield
        finally:
            _local.started = None
        return
    soft_s, hard_s = limits_s(task)
    watchdog = _current()
    call = _Call(task, request, threading.get_ident(), began + soft_s, began + hard_s, soft_s, hard_s)
    _local.call = call
    watchdog.add(call)
    try:
        yield
    finally:
        call.active = False  # from here on the watchdog leaves this thread alone
        try:
            with watchdog.lock:
                watchdog.calls.discard(call)
                pending = call.interrupted and not call.delivered
            if pending:
                _raise_in(call.thread, None)  # the body returned first: it keeps its result
        finally:
            _local.call = _local.started = None
            if call.abandoned:
                raise Ignore()  # whatever the abandoned body ended with: the call was settled
