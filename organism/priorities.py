"""The four priority levels a skill or a call names, and the number each is on the broker.

    @skill(organ="judgment", priority="high")          # every call of the skill, unless the call says otherwise
    pain_scanner.apply_async(args, priority="critical")  # this call

A level is a name; the message carries its number, the same on every broker: higher is served first.

| level | number |
|---|---|
| critical | 9 |
| high | 6 |
| normal | 3 (a call that names none, and the runtime's own tasks) |
| low | 0 (also what a message without a priority counts as) |

RabbitMQ serves the numbers itself (the organ queues' ``x-max-priority``, 10: see ``max_priority``). kombu's Redis
transport keeps one list per step of its ``priority_steps`` (0, 3, 6, 9: one per level) and reads the list of step
0 first, the reverse of RabbitMQ; Organism's Redis transport (organism.brokers.redis_transport) files each message
under ``9 - number``, so the numbers mean the same there. The embedded SQL transport orders its rows by the number
(organism.brokers.embedded). docs/priorities.md says what each broker does.
"""

from __future__ import annotations

import enum

from organism.errors import CallOptionError


class Priority(enum.StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


NUMBERS: dict[Priority, int] = {Priority.CRITICAL: 9, Priority.HIGH: 6, Priority.NORMAL: 3, Priority.LOW: 0}
# kombu's virtual transports clamp a message's priority to 0..9 (kombu.transport.virtual.Channel.max_priority).
HIGHEST_NUMBER = 9
LEVELS = ", ".join(level.value for level in Priority)


def level(value: object) -> Priority:
    """The level ``value`` names.

    Raises:
        ValueError: ``value`` names no level; the message lists the levels.
    """
    try:
        return Priority(value)  # type: ignore[arg-type]  # anything may be given; a non-name raises ValueError
    except ValueError:
        raise ValueError(f"unknown priority {value!r}; levels: {LEVELS}") from None


def number(value: object) -> int:
    """The broker number of a call's priority: a level's name, or a number from 0 to 9 as it is (Celery passes the
    number a message carried when it sends the message's retry).

    Raises:
        CallOptionError: ``value`` is neither (one line, listing the levels).
    """
    if isinstance(value, int) and not isinstance(value, bool):
        if 0 <= value <= HIGHEST_NUMBER:
            return value
        raise CallOptionError(f"priority {value} is outside 0..{HIGHEST_NUMBER}; name a level: {LEVELS}")
    try:
        return NUMBERS[level(value)]
    except ValueError as error:
        raise CallOptionError(str(error)) from None
