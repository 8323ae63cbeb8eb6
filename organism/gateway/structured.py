"""Structured answers: a prompt template from ``config/prompts/``, a pydantic schema, and one repair attempt.

A template is a TOML file with a ``system`` and a ``user`` string, and optionally the ``route`` (model alias) it
is asked of; ``$name`` placeholders are filled from the variables (values that are not strings are inserted as
JSON). The schema goes to the model twice: as the
``response_format`` (if the provider supports it, see ``ORGANISM_GATEWAY__JSON_MODE``) and in the system
message. A reply that does not validate is shown its errors once and asked again; a second invalid reply is an
:class:`InvalidReply` (a :class:`~organism.errors.PermanentError`), because asking a third time rarely helps and
always costs.
"""

from __future__ import annotations

import json
import re
import string
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from organism.errors import PermanentError, Unavailable
from organism.failures.degrade import optional
from organism.gateway.breaker import CircuitOpen
from organism.gateway.budget import BudgetExhausted
from organism.gateway.client import EndpointDown, Gateway, Message, gateway

M = TypeVar("M", bound=BaseModel)
ERROR_CHARS = 600
NO_MODEL = "deterministic (no model configured)"  # the ``engine`` of a result made without a model
# what a skill with ``optional=["model"]`` goes on without
MODEL_UNAVAILABLE = (BudgetExhausted, CircuitOpen, EndpointDown)
_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)


class InvalidReply(PermanentError):
    """The model's reply did not validate, even after the repair attempt."""


@dataclass(frozen=True)
class JsonReply(Generic[M]):
    """A validated answer, the model that gave it, and whether it took the repair attempt."""

    value: M
    model: str
    repaired: bool

    @property
    def engine(self) -> str:
        """What a skill's result says it was made by, e.g. ``model:gpt-4o-mini``."""
        return f"model:{self.model}"


def deterministic(reason: str) -> str:
    """The ``engine`` of a result made without the model for ``reason``."""
    return f"deterministic ({reason})"


def without_model(error: BudgetExhausted | CircuitOpen | EndpointDown | InvalidReply) -> str:
    """Note that the skill goes on without the model, and return the ``engine`` of its deterministic result.

    For a skill that declares ``optional=["model"]``, a spent budget, an open circuit or an endpoint that failed
    on the call's last attempt means the model is unavailable (and so, for a skill that chooses to treat it so,
    does a reply that stayed invalid): its result is marked degraded with the reason, and its node and run say
    so. For any other skill ``error`` takes its normal course (a budget refusal or an invalid reply dead-letters,
    an open circuit waits, a last attempt's failure dead-letters with the retries spent).
    """
    try:
        with optional("model"):
            raise Unavailable("model", str(error))
    except Unavailable:
        raise error from None
    return deterministic(f"model unavailable: {error}")


@dataclass(frozen=True)
class Prompt:
    """A rendered template: its messages, and the route it names (None: the call's default)."""

    messages: list[Message]
    route: str | None


def render(path: Path, variables: dict[str, Any]) -> Prompt:
    """The system and user messages of the template at ``path`` with ``variables`` filled in, and its route.

    Raises:
        PermanentError: the template is missing, malformed, or names a variable not given.
    """
    try:
        template = tomllib.loads(path.read_text(encoding="utf-8"))
        values = {k: v if isinstance(v, str) else json.dumps(v, ensure_ascii=False) for k, v in variables.items()}
        messages: list[Message] = [{"role": role, "content": string.Template(template[role]).substitute(values)}
                                   for role in ("system", "user")]
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise PermanentError(f"prompt template {path}: {error}") from None
    except KeyError as error:
        raise PermanentError(f"prompt template {path}: no {error} (a 'system' and a 'user' string, "
                             f"and every $variable given)") from None
    route = template.get("route")
    if route is not None and not isinstance(route, str):
        raise PermanentError(f"prompt template {path}: 'route' must be a route's name, e.g. route = \"bulk-cheap\"")
    return Prompt(messages, route)


def parse(reply: str, schema: type[M]) -> M:
    """Validate a reply (a JSON object, optionally inside a Markdown code fence) against ``schema``."""
    fenced = _FENCE.match(reply)
    return schema.model_validate_json(fenced.group(1) if fenced else reply)


def complete_json(template_name: str, variables: dict[str, Any], schema: type[M], *, client: Gateway | None = None,
                  route: str | None = None, skill: str | None = None, run_id: str | None = None) -> JsonReply[M]:
    """Ask the model to fill ``schema`` using prompt template ``template_name``; one repair if it does not.

    The call goes to ``route``, else the template's, else the skill's default (:meth:`Gateway.chat`).

    Raises:
        PermanentError: the template is unusable.
        InvalidReply: the reply is invalid after the repair.
        Deferred, TransientError: as :meth:`Gateway.chat`.
    """
    client = client or gateway()
    json_schema = schema.model_json_schema()
    prompt = render(client.config.prompts_dir / f"{template_name}.toml", variables)
    messages = prompt.messages
    messages[0]["content"] += ("\n\nReply with one JSON object and nothing else. It must match this JSON Schema:\n"
                               + json.dumps(json_schema, ensure_ascii=False))
    formats: dict[str, dict[str, Any] | None] = {
        "json_schema": {"type": "json_schema", "json_schema": {"name": schema.__name__, "schema": json_schema}},
        "json_object": {"type": "json_object"},
        "none": None,
    }
    response_format = formats[client.config.json_mode]
    problem = ""
    for attempt in range(2):
        result = client.chat(messages, route=route or prompt.route, skill=skill, run_id=run_id,
                             response_format=response_format)
        try:
            return JsonReply(parse(result.content, schema), result.model, repaired=attempt > 0)
        except ValidationError as error:
            problem = _errors(error)
        messages = [*messages, {"role": "assistant", "content": result.content},
                    {"role": "user", "content": f"That reply is not valid: {problem}\nReply again with only the "
                                                "corrected JSON object."}]
    raise InvalidReply(f"the model's reply to {template_name!r} was not a valid {schema.__name__} after one "
                         f"repair: {problem}")


def _errors(error: ValidationError) -> str:
    text = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'reply'}: {e['msg']}" for e in error.errors())
    return text[:ERROR_CHARS]
