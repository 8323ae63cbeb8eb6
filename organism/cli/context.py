"""What every ``organism`` command needs first: settings and the app, with configuration errors as one line, and
failures of the services a command uses as one line too."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

import click

from organism.settings import Settings, SettingsError, load

P = ParamSpec("P")
R = TypeVar("R")


def settings_or_exit() -> Settings:
    try:
        return load()
    except SettingsError as error:
        problems = str(error).splitlines()
        shown = problems[0] if len(problems) == 1 else "\n" + "\n".join(problems)
        raise click.ClickException(f"bad configuration: {shown}") from None


def app_or_exit() -> Any:
    settings_or_exit()  # a configuration error is reported before the app module tries to use it
    from organism.app import app

    return app


def services_or_exit(command: Callable[P, R]) -> Callable[P, R]:
    """Decorate a command that uses the store, the broker or the results: a failure of one is one line, exit 1.

    The line is doctor's (:func:`organism.cli.doctor.failed_service`): refused credentials, a missing database or
    vhost, missing tables or a service that does not answer, each with its fix. Any other error keeps its
    traceback: it is a bug.
    """

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except click.ClickException:  # the command's own one line
            raise
        except Exception as error:
            from organism.cli.doctor import failed_service

            found = failed_service(settings_or_exit(), error)
            if found is None:
                raise
            raise click.ClickException(found.line()) from None

    return run
