"""The Procfile: one process per role, a worker per organ and exactly one beat, rendered from the settings.

Each worker line is ``organism worker --organ X``, which reads the organ's pool, prefetch and limits from the same
settings when it starts (organism.local.worker_options); the comment above it says what those are as rendered, so
the file shows the limits it runs with and a check against the settings notices when they change.
"""

from __future__ import annotations

from organism.settings import Settings

HEADER = """\
# Rendered from the settings by `organism deploy procfile --out Procfile`: change the settings, not this file, and
# render it again (docs/workers.md).
# One process per role; exactly one beat. Run `organism migrate` once before starting (a release step).
# flower, console and metrics need an account: `organism operators add NAME --role operator` (metrics: or the
# scrape token, ORGANISM_OBSERVABILITY__SCRAPE_TOKEN).
# Each worker takes its organ's pool, prefetch and limits from the settings as it starts; as rendered:
"""
OTHER_ROLES = ("beat: organism beat", "flower: organism flower", "console: organism console",
               "metrics: organism metrics")


def render(settings: Settings) -> str:
    """The Procfile for ``settings``: a worker per organ (with its limits in a comment), beat, Flower, the console
    and the metrics exporter."""
    lines = []
    for organ in settings.organs:
        lines += [f"# {organ}: {settings.worker(organ).summary()}", f"{organ}: organism worker --organ {organ}"]
    return HEADER + "\n".join([*lines, *OTHER_ROLES]) + "\n"
