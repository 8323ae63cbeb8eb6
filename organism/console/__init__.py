"""The console: a small web app for what Flower lacks (runs and their DAGs, starting a workflow, dead letters and
replay, token economics, the cluster by organ), served by ``organism console``.

Why Flask (served by waitress): everything the console calls is synchronous, as Organism's own code is
(SQLAlchemy sessions, Celery's control and result APIs, kombu), so an async framework would only push each view
into a thread pool. Flask is the long-standing Pallets project with a steady release record, brings Jinja2
with autoescaping for server-rendered pages, and adds two small dependencies (Werkzeug, itsdangerous). waitress
is a pure-Python production WSGI server with no C extensions, the same on Linux, macOS and Windows.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

from flask import Flask

from organism.console import errors, formatting, security, zones
from organism.console.audit import audit
from organism.console.cluster import cluster
from organism.console.context import KEY
from organism.console.dead_letters import dead_letters
from organism.console.economics import economics
from organism.console.probes import probes
from organism.console.runs import runs
from organism.console.workflows import workflows

if TYPE_CHECKING:
    from organism.app import Organism


def create_console(app: Organism) -> Flask:
    """The console for ``app``'s broker, store and settings."""
    settings = app.settings.observability
    app.loader.import_default_modules()  # now, in this thread: task modules may look for the current app
    console = Flask(__name__)
    key = settings.console_secret_key
    console.config.update({KEY: app, "SECRET_KEY": key.get_secret_value() if key else secrets.token_hex(32)})
    security.install(console, settings)
    formatting.install(console)
    zones.install(console)
    errors.install(console)
    for blueprint in (probes, runs, workflows, dead_letters, economics, cluster, audit):
        console.register_blueprint(blueprint)
    console.jinja_env.globals["flower_url"] = settings.flower_url
    return console
