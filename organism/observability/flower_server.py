"""Flower as ``organism flower`` runs it: Celery's own ``celery flower``, with ``/metrics`` behind its basic auth.

Flower exempts ``/metrics`` from authentication and has no option to change that (its docs, "Authentication":
"The following endpoints are exempt from authentication: /healthcheck, /metrics"). Its samples name every task
and worker, so before Celery's command builds the app from :data:`flower.urls.handlers`, the route is pointed at
a subclass guarded by ``tornado.web.authenticated``, the decorator Flower puts on every other page. Who is
signed in is the store's named operators' business (flower_login.py); with ``flower_allow_anonymous`` Flower's
own ``get_current_user`` admits everyone, here too.
``/healthcheck`` stays open: it answers ``OK`` and nothing else.

Flower also remembers the tasks it saw across restarts (flower_events.py), and shows times in Celery's
``timezone``, the configured one (``ORGANISM_TIMEZONE``, as the console by default): its task page ends each
time with the zone's abbreviation, and :func:`name_the_zone` puts the zone in the tasks table's time headers.

Run as ``python -m organism.observability.flower_server <flower options>`` (ops_cli.py does).
"""

from __future__ import annotations

import sys

import tornado.web
from flower import urls
from flower.views import tasks
from flower.views.monitor import Metrics

from organism.observability import flower_events, flower_login
from organism.settings import get_settings


class GuardedMetrics(Metrics):
    """Flower's Prometheus page, for the same credentials as the rest of Flower."""

    @tornado.web.authenticated
    async def get(self) -> None:
        await super().get()


def guard_metrics(handlers: list[object]) -> None:
    """Point every ``/metrics`` route of Flower's ``handlers`` at :class:`GuardedMetrics`, in place."""
    for index, handler in enumerate(handlers):
        if isinstance(handler, tuple) and handler[1] is Metrics:
            handlers[index] = (handler[0], GuardedMetrics, *handler[2:])


def name_the_zone(columns: dict[str, str], zone: str) -> None:
    """Add ``zone`` to the labels of the time columns of Flower's tasks table (``Received (Asia/Shanghai)``)."""
    for slug in ("received", "started", "revoked"):  # the columns flower.js shows as times
        columns[slug] = f"{columns[slug]} ({zone})"


def main(flower_args: list[str]) -> None:
    """``celery -A organism.app flower FLOWER_ARGS`` with the guarded ``/metrics``; exits with Celery's code."""
    from celery.bin.celery import celery

    guard_metrics(urls.handlers)
    flower_login.install()  # the store's operators sign in (ops.py names the provider)
    settings = get_settings()
    flower_events.install(settings.data_dir, settings.observability.flower_kept_tasks)
    name_the_zone(tasks.TASK_COLUMNS, settings.timezone)
    celery.main(args=["-A", "organism.app", "flower", *flower_args], prog_name="celery",
                auto_envvar_prefix="CELERY")


if __name__ == "__main__":
    main(sys.argv[1:])
