"""What every ``organism`` command needs first: settings and the app, with configuration errors as one line, and
failures of the services a command uses as one line too."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import click

from organism.brokers import broker_for
from organism.gateway import routes
from organism.security import signing
from organism.settings import Settings, SettingsError, load

if TYPE_CHECKING:
    from organism.cli.doctor import Check

P = ParamSpec("P")
R = TypeVar("R")


def settings_or_exit(signing_files: bool = True) -> Settings:
    """The settings, as the app would take them; ``signing_files=False`` leaves out the check of the signing key,
    certificate and store (for the command that makes them)."""
    try:
        settings = load()
        broker_for(settings.broker)  # a URL that names no broker is a configuration mistake too
        routes.check(settings)  # and so are the gateway's routes and policies, as the app would find them
        if signing_files:
            signing.check(settings)  # and signing files that are missing or do not fit together
        return settings
    except SettingsError as error:
        problems = str(error).splitlines()
        shown = problems[0] if len(problems) == 1 else "\n" + "\n".join(problems)
        raise click.ClickException(f"bad configuration: {shown}") from None


def app_or_exit() -> Any:
    settings_or_exit()  # a configuration error is reported before the app module tries to use it
    from organism.app import app

    return app


def workflows_or_exit() -> Any:
    """The app, once the schedules in settings fit the declared workflows: a wrong one is one line, exit 1."""
    from organism.workflows.declaration import DeclarationError
    from organism.workflows.registry import check_settings

    app = app_or_exit()
    try:
        check_settings(app)
    except DeclarationError as error:
        raise click.ClickException(f"bad configuration: {error}") from None
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


def ensure_store(settings: Settings) -> None:
    """Migrate an SQLite store in place (the embedded profile has nothing to set up); check any other."""
    from organism import store
    from organism.cli.doctor import check_store
    from organism.store.db import sqlite_file

    if sqlite_file(settings.database):
        store.migrate(settings.database)
        return
    require(check_store(settings))


def require(*checks: Check) -> None:
    """Exit with the first failed check's line: a canvas half published, or a run half reset, helps no one."""
    failed = next((check for check in checks if not check.ok), None)
    if failed is not None:
        raise click.ClickException(failed.line())
