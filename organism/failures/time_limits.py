"""A skill past its time limits: the soft limit's error named; a call the hard limit killed, retried or dead-lettered.

A skill's limits are its organ's (``settings.worker(organ)``), unless the skill declares its own
(``@skill(soft_time_limit=...)``) or the call sets them (``apply_async(soft_time_limit=...)``). A prefork pool
interrupts a child past the soft limit with Celery's ``SoftTimeLimitExceeded`` and kills it past the hard one; a
threads or solo pool does neither, and :mod:`organism.failures.thread_limits` applies them there (docs/workers.md).

* Soft: what escapes the skill's body becomes :class:`~organism.errors.SkillTimeout`, whose message names the limit
  and whose it is ("soft time limit of 2 s exceeded (organ perception)"), and is classified like any failure.
* Hard: left to Celery, the worker's main process would store a FAILURE, failing the call's run at once, and put
  the message back as it was, where it kills a child again at each delivery until the delivery cap dead-letters it
  as poison. :class:`SkillRequest` makes it a failure of the skill like any other instead: a SkillTimeout, classified,
  then a retry sent and the message acked, or a dead letter written and the message rejected to the dead letters.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any

from billiard.einfo import ExceptionWithTraceback
from celery.exceptions import Retry, TimeLimitExceeded
from celery.utils.saferepr import saferepr
from celery.worker import state
from celery.worker.state import task_ready

from organism.errors import SkillTimeout
from organism.expiry import RejectsExpired
from organism.failures import thread_limits
from organism.observability.events import NamedRequest

if TYPE_CHECKING:
    from organism.skill import SkillTask

REQUEST = "organism.failures.time_limits:SkillRequest"
logger = logging.getLogger(__name__)


def exceeded(task: SkillTask, which: str, limit_s: float, in_thread: bool = False) -> SkillTimeout:
    """The error of ``task`` past its ``which`` ("soft" or "hard") limit of ``limit_s``, naming whose limit it is
    (``in_thread``: it ran in a thread of the worker, which cannot be killed: organism.failures.thread_limits)."""
    attribute = "soft_time_limit" if which == "soft" else "time_limit"
    declared = vars(task.__class__).get(attribute)  # the skill's own declaration, if it made one
    organ = task.skill.organ
    if declared is not None and float(declared) == limit_s:
        whose = f"skill {task.name}"
    elif getattr(task.settings.worker(organ), f"{attribute}_s") == limit_s:
        whose = f"organ {organ}"
    else:
        whose = "set by the call"
    killed = ("; its thread was abandoned" if in_thread else "; its process was killed") if which == "hard" else ""
    return SkillTimeout(f"{which} time limit of {limit_s:g} s exceeded ({whose}){killed}")


def soft_exceeded(task: SkillTask) -> SkillTimeout:
    """The error of ``task``, running in a pool process, interrupted by its soft limit."""
    return exceeded(task, "soft", float(task.request.soft_time_limit or task.soft_time_limit))


class SkillRequest(RejectsExpired, NamedRequest):
    """A skill's request in the worker's main process: a hard time limit handled as the skill's own failure, and an
    expired call rejected to the dead letters (organism.expiry)."""

    def on_accepted(self, pid: int, time_accepted: float) -> None:
        super().on_accepted(pid, time_accepted)
        thread_limits.accepted(self, pid)

    def on_failure(self, exc_info: Any, send_failed_event: bool = True, return_ok: bool = False) -> None:
        if thread_limits.settled(self):  # its hard limit settled it while its thread ran on: nothing left to do
            return
        exc = exc_info.exception
        if isinstance(exc, ExceptionWithTraceback):
            exc = exc.exc
        if isinstance(exc, TimeLimitExceeded) and not state.should_terminate:
            task_ready(self)  # the pool calls on_timeout next, which decides what becomes of the message
            return
        super().on_failure(exc_info, send_failed_event=send_failed_event, return_ok=return_ok)

    def on_timeout(self, soft: bool, timeout: float) -> None:
        if soft or state.should_terminate:  # a soft limit is the skill's to meet; a shutdown is Celery's
            super().on_timeout(soft, timeout)
            return
        task_ready(self)
        task: SkillTask = self.task
        error = exceeded(task, "hard", float(timeout), in_thread=self.worker_pid == os.getpid())
        # The request as the task sees it in a pool process, so that its retry is sent as from there.
        task.push_request(**{**vars(self._context), "args": self.args, "kwargs": self.kwargs,
                             "called_directly": False})
        context = task.request
        try:
            task._retry_or_give_up(error, self.args, self.kwargs)
        except Retry:
            logger.error("%s[%s]: %s; retrying", self.name, self.id, error)
            if self.store_errors:
                task.backend.mark_as_retry(self.id, error, request=context)
            self.acknowledge()
            self.send_event("task-retried", exception=saferepr(error), traceback="")
            return
        except Exception:  # the bookkeeping failed: Celery's own handling still leaves the call failed, not lost
            logger.exception("%s[%s]: %s, and handling it failed; the message goes back to the queue",
                             self.name, self.id, error)
            super().on_timeout(soft, timeout)
            return
        finally:
            task.pop_request()
        logger.error("%s[%s]: %s; dead-lettered", self.name, self.id, error)
        task.backend.mark_as_failure(self.id, error, request=context, store_result=self.store_errors)
        self.send_event("task-failed", exception=saferepr(error), traceback="")
        self.reject(requeue=False)
