"""The app's producer seals what it publishes: every task message Organism sends is built here.

Celery builds each task message in one method, ``AMQP.as_task_v2``, whatever asked for it: a call's
``apply_async``, a canvas, a retry (``Task.retry``), a chain's next step or a chord's body sent by a worker, a
replay, a resumed run. :class:`SealingAMQP`, the app's ``amqp_cls``, takes the message Celery built and seals the
call if its skill is declared sensitive, and the signatures of sensitive skills inside it
(organism.security.sealed_calls), before the message is sent or any signal handler sees it. A message with
nothing to seal is passed on as Celery built it.
"""

from __future__ import annotations

from typing import Any

from celery.app.amqp import AMQP
from celery.utils.saferepr import saferepr

from organism.security import sealed_calls
from organism.security.payloads import Keyring
from organism.settings import get_settings


class SealingAMQP(AMQP):
    """Celery's AMQP helper, sealing the arguments of skills declared sensitive in every message it builds."""

    _imported_task_modules = False
    _sensitive_among = -1  # how many tasks the app had when _any was last worked out
    _any = True

    def as_task_v2(self, task_id: str, name: str, *args: Any, **kwargs: Any) -> Any:
        message = super().as_task_v2(task_id, name, *args, **kwargs)
        if not self._any_sensitive():
            return message
        call_args, call_kwargs, embed = message.body
        if self._sensitive(name):
            call_args, call_kwargs = sealed_calls.seal(self._keys(), name, call_args, call_kwargs)
        else:  # a canvas task (celery.chord_unlock carries its chord's body) or a skill handed signatures
            call_args = sealed_calls.sealed_within(call_args, self._sensitive, self._keys)
            call_kwargs = sealed_calls.sealed_within(call_kwargs, self._sensitive, self._keys)
        sealed_embed = sealed_calls.sealed_within(embed, self._sensitive, self._keys)
        if (call_args, call_kwargs, sealed_embed) == message.body:  # the same objects: nothing was sealed
            return message
        # Celery's reprs were made from the arguments before they were sealed: they are made again.
        headers = {**message.headers, "argsrepr": self._repr(call_args, self.argsrepr_maxsize),
                   "kwargsrepr": self._repr(sealed_calls.shown(call_kwargs), self.kwargsrepr_maxsize)}
        sent_event = message.sent_event and {**message.sent_event, "args": headers["argsrepr"],
                                             "kwargs": headers["kwargsrepr"]}
        return message._replace(headers=headers, body=(call_args, call_kwargs, sealed_embed), sent_event=sent_event)

    def check_sealable(self, canvas: Any) -> None:
        """Raise :class:`~organism.security.payloads.PayloadError` (one line) if ``canvas`` holds a call of a
        sensitive skill that no key can seal: a run's canvas is checked before the run is written, so that no part
        of it is sent."""
        if self._any_sensitive():
            sealed_calls.sealed_within(canvas, self._sensitive, self._keys)

    def _repr(self, value: Any, max_chars: int) -> str:
        return saferepr(value, max_chars, maxlevels=self.app.conf.task_repr_maxlevels)

    def _keys(self) -> Keyring:
        return sealed_calls.keyring(getattr(self.app, "settings", None) or get_settings())

    def _any_sensitive(self) -> bool:
        """Whether the app knows any skill declared sensitive, once it has imported its task modules: with none, a
        message has nothing to seal, and its walk (a run's whole canvas rides in its first messages) is skipped."""
        self._import_task_modules()
        known = len(self.app.tasks)
        if self._sensitive_among != known:  # tasks registered since the last look (a module imported late)
            self._any = any(getattr(getattr(task, "skill", None), "sensitive", False)
                            for task in list(self.app.tasks.values()))
            self._sensitive_among = known
        return self._any

    def _import_task_modules(self) -> None:
        if not self._imported_task_modules:
            self._imported_task_modules = True
            self.app.loader.import_default_modules()

    def _sensitive(self, name: str) -> bool:
        """Whether ``name`` is a skill declared sensitive; a name this process does not know makes it import the
        app's task modules once (a producer that sends by name must not send a sensitive call in clear)."""
        task = self.app.tasks.get(name)
        if task is None and not self._imported_task_modules:
            self._import_task_modules()
            task = self.app.tasks.get(name)
        return bool(getattr(getattr(task, "skill", None), "sensitive", False))
