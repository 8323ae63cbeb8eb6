"""What a task message must look like before a worker's main process acts on it.

Celery trusts a message's envelope: a missing ``id`` header raises ``KeyError`` in the consumer, a header of the
wrong type raises later, and an argument nested a few hundred levels deep overflows the stack when the request
is pickled for the prefork pool. Any of these stops the worker's main process (``Unrecoverable error``), the
message returns to the head of the queue, and every restarted worker dies on it again. :func:`problem` names
what is wrong with a message, or returns None; the consumer (organism.failures.bad_messages) dead-letters a message with
a problem before Celery sees it.

The checks are those of Celery's own message protocol (version 2, and the hybrid form Celery also accepts) and
of the headers Organism adds; kombu has no validator for them.
"""

from __future__ import annotations

import reprlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kombu.message import Message

from organism import headers
from organism.failures.dead_letters import REPLAY_HEADER
from organism.failures.retry import RETRY_HEADER

MAX_ID_LENGTH = 64  # the store keeps task ids in String(64) columns
_TEXT, _NUMBER = (str,), (int, float)
# Header -> the types it may have (None is always allowed). Bools are ints in Python: excluded where it matters.
_HEADER_TYPES: dict[str, tuple[type, ...]] = {
    "lang": _TEXT, "root_id": _TEXT, "parent_id": _TEXT, "group": _TEXT, "shadow": _TEXT, "origin": _TEXT,
    "argsrepr": _TEXT, "kwargsrepr": _TEXT, "eta": _TEXT, "expires": _TEXT, "meth": _TEXT,
    "retries": (int,), "timelimit": (list, tuple), "ignore_result": (bool,), "group_index": (int,),
    "stamped_headers": (list, tuple), "stamps": (dict,), "replaced_task_nesting": (int,),
    headers.RUN_HEADER: _TEXT, headers.NODE_HEADER: _TEXT, RETRY_HEADER: (dict,), REPLAY_HEADER: (int,),
    "organism_attempts": (int,),
}
_SIGNATURE_LISTS = ("callbacks", "errbacks", "chain")
_EMBED_TYPES: dict[str, tuple[type, ...]] = {
    "callbacks": (list,), "errbacks": (list,), "chain": (list,), "chord": (dict,), "group": _TEXT,
    "group_index": (int,),
}


@dataclass(frozen=True)
class Limits:
    """How large and how deep a message may be (settings ``max_message_bytes``, ``max_message_depth``)."""

    max_bytes: int
    max_depth: int


def problem(message: Message, limits: Limits) -> str | None:
    """What is wrong with ``message`` as a task message, in one phrase; None when nothing is."""
    headers = message.headers
    if not isinstance(headers, Mapping):
        return f"headers are {type(headers).__name__}, not a mapping"
    size = len(message.body or b"")
    if size > limits.max_bytes:
        return f"body of {size} bytes exceeds the limit of {limits.max_bytes} (ORGANISM_MAX_MESSAGE_BYTES)"
    found = _envelope_problem(headers) or _properties_problem(message.properties or {})
    if found:
        return found
    try:
        body = message.decode()
    except Exception:  # the consumer's own decode path reports undecodable bodies with their reason
        return None
    return _body_problem(body, limits.max_depth)


def task_id(message: Message) -> str | None:
    """The message's task id if it has a usable one (a result can be stored under it)."""
    headers = message.headers if isinstance(message.headers, Mapping) else {}
    found = headers.get("id")
    return found if _usable_id(found) else None


def _usable_id(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value) <= MAX_ID_LENGTH and value.isprintable()


def _envelope_problem(headers: Mapping[str, Any]) -> str | None:
    name = headers.get("task")
    if not isinstance(name, str) or not name or len(name) > 200 or not name.isprintable():
        return "the task header is missing or not a task name" if name is None else f"task header {_shown(name)} " \
               "is not a task name"
    if not _usable_id(headers.get("id")):
        return f"id header {_shown(headers.get('id'))} is not a task id (a string of 1 to {MAX_ID_LENGTH} characters)"
    for header, types in _HEADER_TYPES.items():
        value = headers.get(header)
        if value is not None and (not isinstance(value, types) or (bool not in types and isinstance(value, bool))):
            return f"header {header} is {type(value).__name__} {_shown(value)}, expected {_names(types)}"
    limits = headers.get("timelimit")
    if limits is not None and (len(limits) != 2 or not all(_seconds(v) for v in limits)):
        return f"header timelimit {_shown(limits)} is not [soft, hard] seconds"
    for header in ("eta", "expires"):
        if headers.get(header) is not None and not _iso_time(headers[header]):
            return f"header {header} {_shown(headers[header])} is not an ISO 8601 time"
    return None


def _properties_problem(properties: Mapping[str, Any]) -> str | None:
    for name in ("correlation_id", "reply_to"):
        value = properties.get(name)
        if value is not None and not isinstance(value, str):
            return f"property {name} is {type(value).__name__}, expected str"
    priority = properties.get("priority")
    if priority is not None and (not isinstance(priority, int) or isinstance(priority, bool)):
        return f"property priority is {type(priority).__name__}, expected int"
    return None


def _body_problem(body: Any, max_depth: int) -> str | None:
    if isinstance(body, Mapping):  # the hybrid protocol: a protocol-1 body under protocol-2 headers
        if "args" not in body:  # Celery would unpack the mapping's keys as (args, kwargs, embed)
            return f"body is a mapping {_shown(body)} without args, not [args, kwargs, embed]"
        args, kwargs, embed = body["args"], body.get("kwargs", {}), {}
    elif isinstance(body, list | tuple) and len(body) == 3:
        args, kwargs, embed = body
    else:
        return f"body is {type(body).__name__} {_shown(body)}, not [args, kwargs, embed]"
    if not isinstance(args, list | tuple):
        return f"args are {type(args).__name__} {_shown(args)}, not a list"
    if not isinstance(kwargs, Mapping):
        return f"kwargs are {type(kwargs).__name__} {_shown(kwargs)}, not a mapping"
    if embed is not None and not isinstance(embed, Mapping):
        return f"embed is {type(embed).__name__} {_shown(embed)}, not a mapping"
    for key, types in _EMBED_TYPES.items():
        value = (embed or {}).get(key)
        if value is not None and not isinstance(value, types):
            return f"embed {key} is {type(value).__name__}, expected {_names(types)}"
    for key in _SIGNATURE_LISTS:  # Celery builds a signature of each when the task ends, in the main process too
        for item in (embed or {}).get(key) or []:
            if not _signature(item):
                return f"embed {key} holds {_shown(item)}, not a task signature"
    if (embed or {}).get("chord") is not None and not _signature(embed["chord"]):
        return f"embed chord {_shown(embed['chord'])} is not a task signature"
    depth = _depth(body, max_depth)
    if depth > max_depth:
        return f"body nested deeper than {max_depth} levels (ORGANISM_MAX_MESSAGE_DEPTH)"
    return None


def _signature(value: Any) -> bool:
    """Whether ``value`` has the fields Celery reads of a signature dict when the task ends: a task name, options
    with text ids, and arguments of the right kinds (a failure there raises in the worker's main process)."""
    if not isinstance(value, Mapping) or not isinstance(value.get("task"), str) or not value["task"]:
        return False
    options = value.get("options")
    ids = ("task_id", "group_id")
    return (isinstance(options, Mapping) and all(isinstance(options.get(name), str | None) for name in ids)
            and isinstance(value.get("args"), list | tuple | None) and isinstance(value.get("kwargs"), Mapping | None))


def _depth(value: Any, limit: int) -> int:
    """How deeply ``value`` nests lists and mappings, counting no further than ``limit + 1``.

    Iterative: a recursive walk is what overflows on the very messages it must find.
    """
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, Mapping):
            children: Any = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        if deepest > limit:
            return deepest
        stack.extend((child, level + 1) for child in children)
    return deepest


def capped(value: Any, max_depth: int) -> Any:
    """``value`` with whatever lies deeper than ``max_depth`` replaced by a marker, to keep what a message held."""
    if not isinstance(value, Mapping | list | tuple):
        return value
    if max_depth <= 0:
        return f"…[nested deeper; {type(value).__name__} cut]"
    if isinstance(value, Mapping):
        return {str(k): capped(v, max_depth - 1) for k, v in value.items()}
    return [capped(v, max_depth - 1) for v in value]


def _seconds(value: Any) -> bool:
    return value is None or (isinstance(value, _NUMBER) and not isinstance(value, bool) and 0 <= value < 10**9)


def _iso_time(value: Any) -> bool:
    try:
        datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return False
    return True


def _names(types: tuple[type, ...]) -> str:
    return " or ".join(t.__name__ for t in types)


_SHORT = reprlib.Repr()
_SHORT.maxlevel, _SHORT.maxstring, _SHORT.maxother, _SHORT.maxlist, _SHORT.maxdict = 3, 40, 40, 4, 4


def _shown(value: Any) -> str:
    """A short repr, safe for the deep and the huge values this module exists to catch."""
    text = _SHORT.repr(value)
    return text if len(text) <= 80 else f"{text[:80]}…"
