"""The Celery app a console serves, as its views reach it (``organism()`` inside a request)."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from flask import current_app

if TYPE_CHECKING:
    from organism.app import Organism

KEY = "ORGANISM"


def organism() -> Organism:
    """The app whose store, broker and settings this console shows."""
    return cast("Organism", current_app.config[KEY])
