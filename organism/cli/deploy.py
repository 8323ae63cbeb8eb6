"""``organism deploy``: render what runs Organism elsewhere from the settings that define its organs."""

from __future__ import annotations

import click


@click.group()
def deploy() -> None:
    """Render deployment files from the settings (each organ's worker, its limits and scaling)."""
