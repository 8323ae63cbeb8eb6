"""What an entry records of a replay: the letter, its skill and run, and the arguments published."""

from __future__ import annotations

from typing import Any

from organism.failures import dead_letters
from organism.security.sealed_calls import is_sealed


def replay_detail(url: str, letter_id: int, *, force: bool, edited: dict[str, Any] | None = None) -> dict[str, Any]:
    """The detail of replaying dead letter ``letter_id``: ``edited`` (``{"args": …, "kwargs": …}``) if the operator
    changed the arguments (withheld for a sensitive skill), else the letter's own (the trail redacts and cuts them as
    it stores them; a sensitive skill's are sealed)."""
    letter = dead_letters.get(url, letter_id)
    if letter is None:
        return {"letter": letter_id, "force": force}
    arguments = edited if edited is not None else {"args": letter.args, "kwargs": letter.kwargs}
    if edited is not None and is_sealed(letter.kwargs):  # a sensitive skill's arguments are never written in clear
        arguments = {"withheld": "the skill's arguments are sensitive: the dead letter keeps them sealed"}
    return {"letter": letter_id, "skill": letter.task_name, "run": letter.run_id, "node": letter.node, "force": force,
            "edited": edited is not None, "arguments": arguments}
