"""Result backends that store no secret about a call and read nothing but what they wrote.

With ``result_extended`` (app.py), Celery stores each task's name, worker, queue and arguments next to its
state, and a failure's exception and traceback as text. :class:`SafeResults` stores the arguments and those texts
redacted, and cuts the texts to ``log_max_chars``.
The result value itself is kept as the task returned it: the next step of a chord reads it. A stored entry that
the result serializer (JSON) cannot read was written by something else: reading it raises
:class:`RefusedResult` and logs one error line naming the task or group.

The app names the backend classes in its ``result_backend`` URL (``class path+URL``, which Celery accepts):
:func:`backend_url` for Redis, ``embedded.result_backend_url`` for the embedded profile's SQLite backend.

A process that publishes a canvas and does not wait for it (the CLI, the console, the watchdog) publishes it
inside :func:`not_waiting`: see there why.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from celery import states
from celery.backends.redis import RedisBackend as CeleryRedisBackend
from celery.backends.redis import ResultConsumer as CeleryResultConsumer
from celery.exceptions import BackendGetMetaError, BackendStoreError
from kombu.exceptions import DecodeError
from kombu.utils.encoding import bytes_to_str

from organism.redaction import redact
from organism.settings import get_settings

logger = logging.getLogger(__name__)
REDIS_BACKEND = "organism.brokers.results:RedisBackend"
_NOT_WAITING: ContextVar[bool] = ContextVar("organism_not_waiting", default=False)  # see not_waiting
_BULK_READ = 1000  # messages read in one go by the result consumer: a bound, so a flood cannot hold its lock


class RefusedResult(BackendGetMetaError):
    """A stored result that the result serializer cannot read; it is never decoded any other way.

    A kind of Celery's own "could not read the backend" error, so a worker checking whether a redelivered
    task already succeeded treats it as unknown and runs the task, instead of failing on it.
    """


class _RedactedRequest:
    """A task request whose ``args`` and ``kwargs`` read redacted; everything else reads through."""

    def __init__(self, request: Any) -> None:
        self._request = request

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._request, name)
        return redact(value) if name in ("args", "kwargs") else value


class SafeResults:
    """Mixin for a Celery result backend: arguments, exception text and traceback are stored redacted; an entry
    the serializer cannot read is refused with a logged error."""

    app: Any
    serializer: str

    def _max_chars(self) -> int:
        settings = getattr(self.app, "settings", None) or get_settings()
        return int(settings.observability.log_max_chars)

    def encode_result(self, result: Any, state: str) -> Any:
        encoded = super().encode_result(result, state)  # type: ignore[misc]
        if state in states.EXCEPTION_STATES and isinstance(encoded, dict) and "exc_message" in encoded:
            encoded = {**encoded, "exc_message": redact(encoded["exc_message"], self._max_chars())}
        return encoded

    def _get_result_meta(self, result: Any, state: str, traceback: str | None, request: Any,
                         format_date: bool = True, encode: bool = False) -> dict[str, Any]:
        return super()._get_result_meta(  # type: ignore[misc]
            result, state, redact(traceback, self._max_chars()) if traceback else traceback,
            _RedactedRequest(request) if request is not None else None, format_date=format_date, encode=encode)

    def _refused(self, kind: str, key: str, error: DecodeError) -> RefusedResult:
        message = (f"refused the stored result of {kind} {key}: it is not {self.serializer} ({error}); something "
                   "other than Celery wrote it, and it is never decoded any other way")
        logger.error("%s", message)
        return RefusedResult(message, task_id=key)

    def _get_task_meta_for(self, task_id: str) -> Any:
        try:
            return super()._get_task_meta_for(task_id)  # type: ignore[misc]
        except DecodeError as error:
            raise self._refused("task", task_id, error) from None

    def _restore_group(self, group_id: str) -> Any:
        try:
            return super()._restore_group(group_id)  # type: ignore[misc]
        except DecodeError as error:
            raise self._refused("group", group_id, error) from None


# Celery stores a state with a GET (to keep a stored success from being overwritten by a late duplicate), then a
# SETEX and a PUBLISH: two round trips, and a window between them in which two deliveries of one task both pass
# the check. This script does the same in one atomic round trip. A stored entry it cannot read as a JSON object
# answers -1, and Celery's own path decides (and refuses it if the serializer cannot read it either).
_STORE_UNLESS_SUCCEEDED = """
local current = redis.call('GET', KEYS[1])
if current then
    local ok, meta = pcall(cjson.decode, current)
    if not ok or type(meta) ~= 'table' then return -1 end
    if meta['status'] == 'SUCCESS' then return 0 end
end
if tonumber(ARGV[2]) > 0 then
    redis.call('SETEX', KEYS[1], ARGV[2], ARGV[1])
else
    redis.call('SET', KEYS[1], ARGV[1])
end
redis.call('PUBLISH', KEYS[1], ARGV[1])
return 1
"""


class BulkResultConsumer(CeleryResultConsumer):
    """Celery's Redis result consumer, reading every announcement that has already arrived each time it reads one.

    Celery's reads one pub/sub message per call, and each call goes round its wait loop (a lock, a readiness
    check, a yield to other processes): a caller waiting for many results that came back while it was still
    publishing (a fan-out, ``ResultSet.get``) paid that per result. In ``bench.dispatch``, batches sent in
    ``confirmed_together`` cost the producer 0.48 ms of CPU per call more than batches sent call by call; now
    0.05 ms. Each message is still handled by Celery's own ``on_state_change``."""

    def _drain_one(self, pubsub: Any, timeout: float | None) -> bool:
        if not super()._drain_one(pubsub, timeout):
            return False
        with self.reconnect_on_error():
            for _ in range(_BULK_READ):
                connection = pubsub.connection
                if connection is None or not connection.can_read(timeout=0):
                    break
                message = pubsub.get_message(timeout=0)
                if message and message["type"] == "message":
                    self.on_state_change(self._decode_result(message["data"]), message)
        return True


class RedisBackend(SafeResults, CeleryRedisBackend):
    """Celery's Redis result backend, storing no secret about a call, each state in one round trip, and waiting
    for no result published inside :func:`not_waiting`; results announced together are read together."""

    ResultConsumer = BulkResultConsumer

    def on_task_call(self, producer: Any, task_id: str) -> None:
        if not _NOT_WAITING.get():
            super().on_task_call(producer, task_id)

    def add_pending_result(self, result: Any, weak: bool = False, start_drainer: bool = True) -> Any:
        if _NOT_WAITING.get():
            return result
        return super().add_pending_result(result, weak=weak, start_drainer=start_drainer)

    def _store_result(self, task_id: str, result: Any, state: str, traceback: str | None = None,
                      request: Any = None, **kwargs: Any) -> Any:
        if self.serializer != "json":
            return super()._store_result(task_id, result, state, traceback=traceback, request=request, **kwargs)
        meta = self._get_result_meta(result=result, state=state, traceback=traceback, request=request)
        meta["task_id"] = bytes_to_str(task_id)
        value = self.encode(meta)
        if len(value) > self._MAX_STR_VALUE_SIZE:
            raise BackendStoreError("value too large for Redis backend", state=state, task_id=task_id)
        stored = self.ensure(self._store_unless_succeeded, (self.get_key_for_task(task_id), value))
        if stored == -1:
            return super()._store_result(task_id, result, state, traceback=traceback, request=request, **kwargs)
        return result

    def _store_unless_succeeded(self, key: bytes, value: str) -> int:
        script = self.__dict__.get("_store_script")
        if script is None or script.registered_client is not self.client:
            script = self.__dict__["_store_script"] = self.client.register_script(_STORE_UNLESS_SUCCEEDED)
        return int(script(keys=[key], args=[value, int(self.expires or 0)]))


def backend_url(url: str) -> str:
    """``redis://`` and ``rediss://`` URLs select :class:`RedisBackend`; any other URL is returned as is."""
    return f"{REDIS_BACKEND}+{url}" if url.startswith(("redis://", "rediss://")) else url


@contextmanager
def not_waiting() -> Iterator[None]:
    """Around the publishing of a canvas this process will not wait for: no result of it is waited for.

    Celery's Redis backend subscribes the publisher to each task's result channel as it publishes, and a chord's
    header keeps its members' results in the backend's table of pending results (strongly held) until they
    arrive, which they never do in a process that does not read them. So they lived until the interpreter shut
    down, and their ``__del__`` then unsubscribed with half the interpreter gone (``organism sync --wait`` and
    ``runs resume`` ended with ``Exception ignored in AsyncResult.__del__ ... ImportError``; a console kept a
    few subscriptions for every run it started). Inside this block :class:`RedisBackend` neither subscribes nor
    keeps them, which also spares a run's start a subscription and an unsubscription per node. Results waited
    for later (``AsyncResult.get``) subscribe then, as always. Backends that wait by polling (the embedded
    profile's) keep no such table: nothing to do.
    """
    token = _NOT_WAITING.set(True)
    try:
        yield
    finally:
        _NOT_WAITING.reset(token)
