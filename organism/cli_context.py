"""What every ``organism`` command needs first: settings and the app, with configuration errors as one line."""

from __future__ import annotations

from typing import Any

import click

from organism.settings import Settings, SettingsError, load


def settings_or_exit() -> Settings:
    try:
        return load()
    except SettingsError as error:
        raise click.ClickException(f"bad configuration:\n{error}") from None


def app_or_exit() -> Any:
    settings_or_exit()  # a configuration error is reported before the app module tries to use it
    from organism.app import app

    return app
