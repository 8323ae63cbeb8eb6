"""Why a worker with signing on refuses a task message: it is not signed, its signature does not verify, or its
signed body was published for another task or id (organism.security.signing).

The consumer (organism.failures.bad_messages) asks :func:`refusal` about every message once the envelope checks
have passed, and dead-letters a refused one with the error's ``reason``. Nothing of a refused message is trusted:
its dead letter keeps the arguments it carries (:func:`carried`, JSON only) as evidence, and is not replayed as
it came (organism.failures.replay).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from celery.exceptions import InvalidTaskError, SecurityError
from celery.security.serialization import SecureSerializer
from cryptography.exceptions import InvalidSignature
from kombu.exceptions import DecodeError
from kombu.message import Message

from organism.security.signing import BOUND, SIGNED_CONTENT_TYPE


class Refused(InvalidTaskError):
    """A message a worker with signing on does not run; ``reason`` is its dead letter's."""

    reason = "refused"


class Unsigned(Refused):
    """The message is not signed at all."""

    reason = "unsigned"


class BadSignature(Refused):
    """The message is signed, but not verifiably by a trusted certificate for this task and id."""

    reason = "bad-signature"


REASONS = frozenset({Unsigned.reason, BadSignature.reason})
BAD_SIGNATURE = ("Bad signature: it does not match the body under the certificate it names (another key signed it, "
                 "or the body was altered)")


def refusal(message: Message) -> Refused | None:
    """Why ``message`` is refused, or None if it is signed by a trusted certificate for the task and id its
    headers name. The envelope must have passed organism.failures.message_checks (its headers a mapping)."""
    if message.content_type != SIGNED_CONTENT_TYPE:
        return Unsigned("not signed: with signing on, workers accept only messages signed by a certificate in "
                        "their store")
    try:
        body = message.decode()  # verifies the signature first (kombu keeps what it decoded for Celery)
    except DecodeError as error:
        return BadSignature(f"signature refused: {_cause(error)}")
    embed = body[2] if isinstance(body, list | tuple) and len(body) == 3 else None
    bound = embed.get(BOUND) if isinstance(embed, Mapping) else None
    named = {"task": message.headers.get("task"), "id": message.headers.get("id")}
    if not isinstance(bound, Mapping):
        return BadSignature("the signed body names no task and id: not published by Organism")
    if {"task": bound.get("task"), "id": bound.get("id")} != named:
        return BadSignature(f"the signed body was published for task {bound.get('task')!r} id {bound.get('id')!r}, "
                            f"not {named['task']!r} id {named['id']!r} as the headers say")
    return None


def _cause(error: BaseException) -> str:
    """What lies behind ``error``: a signature that does not verify, or else the innermost of Celery's security
    errors, where its words are plainest (``Unknown certificate: '…'``, ``Expired certificate: '…'``)."""
    found: BaseException = error
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, InvalidSignature):
            # Celery reports this one as a TypeError (its reraise_errors catches a module, celery/celery#5692).
            return BAD_SIGNATURE
        if isinstance(seen, SecurityError):
            found = seen
        seen = seen.__cause__ or seen.__context__
    return str(found)


def carried(message: Message) -> Any:
    """The JSON body a refused ``message`` carries, read without trusting it (for its dead letter); None if it
    carries none."""
    body = message.body
    try:
        if message.content_type == SIGNED_CONTENT_TYPE:
            # Celery has no public way to read a signed body without verifying it.
            body = SecureSerializer()._unpack(body)["body"]
        return json.loads(body)
    except Exception:  # whatever it holds is not JSON this record can keep
        return None
