"""Checking a skill call's arguments against the skill's signature without running it.

A replay publishes arguments that may no longer fit the skill (its signature changed since the call died), or that
an operator edited: they are checked here first, so a misfit is refused with one line before anything is
published. The check reads the same annotations the worker validates with (pydantic, in ``@skill``), through a
model of the function's parameters: pydantic's ``validate_call`` can only validate by calling.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Any, get_type_hints

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from organism.errors import InvalidArguments

_NAMED = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


def describe(name: str, parameters: list[str], error: ValidationError, values: bool = True) -> str:
    """``NAME: invalid arguments: PARAM: what is wrong (got VALUE); ...``, a positional index shown by its name;
    without ``values`` (a skill declared sensitive), no ``(got VALUE)``."""

    def where(loc: tuple[int | str, ...]) -> str:
        head, *rest = loc or ("arguments",)
        named = parameters[head] if isinstance(head, int) and head < len(parameters) else str(head)
        return ".".join([named, *map(str, rest)])

    problems = "; ".join(f"{where(e['loc'])}: {e['msg']}" + (f" (got {e.get('input')!r})" if values else "")
                         for e in error.errors())
    return f"{name}: invalid arguments: {problems}"


@functools.cache
def _model(fn: Callable[..., Any]) -> type[BaseModel]:
    hints = get_type_hints(fn)
    fields: dict[str, Any] = {
        p.name: (hints.get(p.name, Any), ... if p.default is inspect.Parameter.empty else p.default)
        for p in inspect.signature(fn).parameters.values() if p.kind in _NAMED}
    config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)
    return create_model(f"{fn.__name__}_arguments", __config__=config, **fields)


def check(name: str, fn: Callable[..., Any], args: Any, kwargs: Any, values: bool = True) -> None:
    """Raise :class:`InvalidArguments` (one line naming skill and parameter) unless ``fn`` accepts the call.

    ``args`` must be a list and ``kwargs`` a mapping with text keys; the values are checked as the worker would,
    and quoted in the line unless ``values`` is false.
    """
    if not isinstance(args, list | tuple) or not isinstance(kwargs, Mapping):
        raise InvalidArguments(f"{name}: invalid arguments: args must be a list and kwargs a mapping (got "
                               f"{type(args).__name__} and {type(kwargs).__name__})")
    signature = inspect.signature(fn)
    try:
        bound = signature.bind(*args, **{str(key): value for key, value in kwargs.items()})
    except TypeError as error:
        raise InvalidArguments(f"{name}: invalid arguments: {error}") from None
    given = {key: value for key, value in bound.arguments.items() if signature.parameters[key].kind in _NAMED}
    try:
        _model(fn).model_validate(given)
    except ValidationError as error:
        raise InvalidArguments(describe(name, list(signature.parameters), error, values)) from None
