"""A call of a skill declared sensitive, sealed as its message carries it, and opened where it runs.

Sealed, a call has no positional argument and one keyword, :data:`SEALED`, holding the envelope
(organism.security.payloads) of ``{"args": [...], "kwargs": {...}}`` in kombu's JSON (what the message would
have carried), bound to the skill's name. Celery may put arguments in front of a sealed call (a chain's previous
result, a chord's header results): opening it puts them before the sealed ones, as Celery would have.

Where a call is sealed: the app's producer seals every message it builds (organism.security.publishing), and
the signatures of sensitive skills inside it (a chain's next steps, a chord's body, links), so no plaintext of
their arguments reaches the broker, whatever published it (a call, a canvas, a retry, a replay, a resume).
Where it is opened: on the worker just before the body runs (``SkillTask.__call__``), and in a process that
publishes a sealed call again (``SkillTask.apply_async``: a retry, a chain's next step), which seals it anew
with the first key. The texts among the opened arguments are then hidden from what is written about the call:
its result, its error and traceback (:class:`Opened`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kombu.utils.json import dumps, loads

from organism.redaction import hide_known
from organism.security.payloads import Keyring, PayloadError, is_envelope
from organism.settings import Settings

SEALED = "organism_sealed"
MIN_SECRET_CHARS = 4  # shorter texts among sensitive arguments are not hidden elsewhere: they would hide too much
SIGNATURE_KEYS = frozenset({"task", "args", "kwargs", "options", "subtask_type"})
logger = logging.getLogger(__name__)


def keyring(settings: Settings) -> Keyring:
    return Keyring(settings.payloads.secrets)


def is_sealed(kwargs: Any) -> bool:
    """Whether a call's keyword arguments hold a sealed call."""
    return isinstance(kwargs, Mapping) and SEALED in kwargs


def seal(keys: Keyring, name: str, args: Any, kwargs: Any) -> tuple[list[Any], dict[str, Any]]:
    """The call of ``name`` with ``args`` and ``kwargs`` as its message carries it, sealed with the first key.

    A call sealed already is kept as it is, or, with arguments put in front of it, opened and sealed whole.

    Raises:
        PayloadError: no key is configured, or a sealed call does not open (one line naming the skill).
    """
    if is_sealed(kwargs):
        if not args and len(kwargs) == 1:
            return [], dict(kwargs)
        args, kwargs = open_call(keys, name, args, kwargs)
    plaintext = dumps({"args": list(args or ()), "kwargs": dict(kwargs or {})}).encode()
    try:
        return [], {SEALED: keys.seal(plaintext, name.encode())}
    except PayloadError as error:
        raise PayloadError(f"{name} is declared sensitive, but {error}") from None


def open_call(keys: Keyring, name: str, args: Any, kwargs: Mapping[str, Any]) -> tuple[list[Any], dict[str, Any]]:
    """The arguments of sealed call ``name``: any given in front of the envelope, then its own.

    Raises:
        PayloadError: the envelope does not open with the configured keys, or holds no call (one line).
    """
    try:
        call = loads(keys.open(kwargs[SEALED], name.encode()))
    except PayloadError as error:
        raise PayloadError(f"{name}: its sealed arguments {error}") from None
    if not (isinstance(call, dict) and isinstance(call.get("args"), list) and isinstance(call.get("kwargs"), dict)):
        raise PayloadError(f"{name}: its sealed arguments open to something else than a call's args and kwargs")
    given = {key: value for key, value in kwargs.items() if key != SEALED}
    return [*(args or ()), *call["args"]], {**given, **call["kwargs"]}


def shown(kwargs: Any) -> Any:
    """``kwargs`` as logs and monitors show them: a sealed call as which key sealed it, not its ciphertext."""
    if not is_sealed(kwargs) or not is_envelope(kwargs[SEALED]):
        return kwargs
    return {**kwargs, SEALED: f"<sealed with payload key {kwargs[SEALED]['key']}>"}


def sealed_within(value: Any, sensitive: Callable[[str], bool], keys: Callable[[], Keyring]) -> Any:
    """``value`` with every signature of a sensitive skill inside it sealed, at any depth (a chain's steps, a
    chord's body, the callback ``celery.chord_unlock`` carries). What changes is copied; the rest is ``value``'s
    own objects, so a message with nothing to seal costs one walk and no copy."""
    if isinstance(value, Mapping):
        if value.keys() >= SIGNATURE_KEYS and isinstance(value["task"], str) and sensitive(value["task"]):
            args, kwargs = seal(keys(), value["task"], value["args"], value["kwargs"])
            return {**value, "args": args, "kwargs": kwargs,
                    "options": sealed_within(value["options"], sensitive, keys)}
        items = {key: sealed_within(item, sensitive, keys) for key, item in value.items()}
        return value if all(items[key] is item for key, item in value.items()) else items
    if isinstance(value, list | tuple):
        walked = [sealed_within(item, sensitive, keys) for item in value]
        return value if all(new is old for new, old in zip(walked, value, strict=True)) else walked
    return value


@dataclass(frozen=True)
class Opened:
    """A call's arguments as its skill receives them, and the texts among them nothing written may show."""

    args: list[Any] | tuple[Any, ...]
    kwargs: dict[str, Any]
    secrets: frozenset[str] = field(default_factory=frozenset)

    def hidden(self, result: Any, where: str) -> Any:
        """``result`` with the call's sensitive texts replaced by ``***`` (a warning says so, once per call)."""
        if not self.secrets:
            return result
        shown = hide_known(result, self.secrets)
        if shown != result:
            logger.warning("%s: its result held some of its sensitive arguments; they are *** in what is stored "
                           "and sent on", where)
        return shown

    def hide_in(self, error: BaseException) -> None:
        """Replace the call's sensitive texts in ``error`` and the errors it was raised from (their ``args``, what
        their message, Celery's stored exception and the traceback's last line are made of)."""
        seen: set[int] = set()
        current: BaseException | None = error
        while self.secrets and current is not None and id(current) not in seen:
            seen.add(id(current))
            current.args = tuple(hide_known(arg, self.secrets) for arg in current.args)
            current = current.__cause__ or current.__context__


def opened(settings: Settings, name: str, sensitive: bool, args: Any, kwargs: Any, by_message: bool) -> Opened:
    """The call a worker received, opened if sealed; the texts of a sensitive skill's arguments as its secrets.

    Raises:
        PayloadError: the call does not open, or a sensitive skill's call arrived unsealed by message.
    """
    if is_sealed(kwargs):
        args, kwargs = open_call(keyring(settings), name, args, kwargs)
    elif sensitive and by_message:
        raise PayloadError(f"{name} is declared sensitive, but its arguments arrived unsealed: publish it through "
                           "Organism's app, whose producer seals them")
    return Opened(args, kwargs, frozenset(_texts([args, kwargs])) if sensitive else frozenset())


def recorded(settings: Settings, name: str, sensitive: bool, args: Any, kwargs: Any) -> tuple[Any, Any, bool]:
    """A sensitive skill's call as its dead letter keeps it: sealed (one that arrived unsealed is sealed now, or,
    with no key to seal it, kept as no arguments and not replayable); whether it can be replayed."""
    if not sensitive or is_sealed(kwargs):
        return args, kwargs, True
    try:
        sealed_args, sealed_kwargs = seal(keyring(settings), name, args, kwargs)
    except PayloadError:
        return [], {}, False
    return sealed_args, sealed_kwargs, True


def _texts(value: Any) -> list[str]:
    """Every text in ``value`` at least :data:`MIN_SECRET_CHARS` long, keys of mappings aside."""
    if isinstance(value, str):
        return [value] if len(value) >= MIN_SECRET_CHARS else []
    if isinstance(value, Mapping):
        return [text for item in value.values() for text in _texts(item)]
    if isinstance(value, list | tuple):
        return [text for item in value for text in _texts(item)]
    return []
