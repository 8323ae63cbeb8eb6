"""What other code calls: :func:`record` an action with its outcome, or run one :func:`audited`.

Entries are signed with the deployment's key (:mod:`organism.audit.keys`, from the process's settings):
:func:`audited` loads it before the block runs, so without a usable key (:class:`~organism.audit.keys.AuditKeyError`)
nothing is done. If the store cannot take the entry, the error is raised after the action: an action that happened
unrecorded is told, never hidden.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from organism.audit.append import append
from organism.audit.keys import signing_key
from organism.settings import get_settings


def record(url: str, *, who: str, source: str, action: str, target: str, detail: dict[str, Any],
           outcome: str) -> None:
    """Append one entry to the audit trail of the store at ``url``: who did ``action`` to ``target``, from where,
    with what (``detail``, redacted and cut to size) and how it ended (``ok``, ``ok: …`` or ``failed: …``)."""
    append(url, signing_key(get_settings()), who=who, source=source, action=action, target=target, detail=detail,
           outcome=outcome)


@dataclass
class Outcome:
    """What the block of :func:`audited` may add to its ``ok``: ``outcome_detail`` = "started run X"."""

    outcome_detail: str | None = None


@contextmanager
def audited(url: str, *, who: str, source: str, action: str, target: str, detail: dict[str, Any]) -> Iterator[Outcome]:
    """Run the block as one audited action: recorded ``ok`` (``ok: <outcome_detail>`` if the block set it), or
    ``failed: <ExceptionType>: <message>`` and the exception raised again."""
    key = signing_key(get_settings())  # a missing or unreadable key refuses the action before it is done
    entry = Outcome()
    try:
        yield entry
    except BaseException as error:  # an interrupted action is recorded too
        append(url, key, who=who, source=source, action=action, target=target, detail=detail,
               outcome=f"failed: {type(error).__name__}: {error}")
        raise
    append(url, key, who=who, source=source, action=action, target=target, detail=detail,
           outcome=f"ok: {entry.outcome_detail}" if entry.outcome_detail else "ok")
