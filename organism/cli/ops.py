"""The operator's commands, attached to ``organism``: ``console``, ``metrics``, ``flower`` and ``health``.

Every option falls back to its ``ORGANISM_OBSERVABILITY__*`` setting, so the Procfile and docker-compose need
no flags beyond the address they publish.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import sys
import time

import click

from organism.cli.context import app_or_exit, settings_or_exit, workflows_or_exit
from organism.settings import Settings, masked

# Flower's own ways in (a shared password list, OAuth settings, its cookie key) that must not ride along from the
# environment: the accounts are the store's.
FLOWER_AUTH_VARIABLES = frozenset({"FLOWER_BASIC_AUTH", "FLOWER_AUTH", "FLOWER_AUTH_PROVIDER", "FLOWER_COOKIE_SECRET"})
NO_ACCOUNT = "no operator account yet, so no one can sign in: `organism operators add NAME --role operator`"


def _without_accounts(settings: Settings) -> bool:
    """Whether the store is known to hold no operator account (a store that cannot be read yet is not known)."""
    from sqlalchemy.exc import SQLAlchemyError

    from organism.operators import any_account

    try:
        return not any_account(settings.database)
    except SQLAlchemyError:
        return False


def _broker_api(settings: Settings) -> str | None:
    """The management API Flower's Broker page reads: the setting, else the broker's own, if it has one."""
    from organism.brokers import broker_for

    given = settings.observability.flower_broker_api
    return given.get_secret_value() if given is not None else broker_for(settings.broker).management_api


def _serve(wsgi: object, host: str, port: int, what: str) -> None:
    from waitress import serve

    click.echo(f"{what} on http://{host}:{port}/")
    try:
        serve(wsgi, host=host, port=port, threads=8, ident=f"organism-{what}")
    except OSError as error:
        raise click.ClickException(f"cannot listen on {host}:{port}: {error}; choose another --port") from None


@click.command()
@click.option("--host", help="Address to listen on (default: ORGANISM_OBSERVABILITY__CONSOLE_HOST, 127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), help="Port (default: ORGANISM_OBSERVABILITY__CONSOLE_PORT, "
                                                             "8800).")
def console(host: str | None, port: int | None) -> None:
    """Serve the console: runs and their DAGs, dead letters with replay, token economics, the cluster.

    Operators sign in with their accounts (`organism operators add`); scripts may send them as basic credentials.

    \b
    Example:
      organism console --port 8800
    """
    app = workflows_or_exit()  # its Workflows page shows the schedules in force
    app.set_default()  # the app of every server thread, not only of this one
    from organism.console import create_console

    settings = app.settings.observability
    if _without_accounts(app.settings):
        click.echo(f"console: {NO_ACCOUNT}", err=True)
    _serve(create_console(app), host or settings.console_host, port or settings.console_port, "console")


@click.command()
@click.option("--host", help="Address to listen on (default: ORGANISM_OBSERVABILITY__METRICS_HOST, 127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), help="Port (default: ORGANISM_OBSERVABILITY__METRICS_PORT, "
                                                             "9808).")
def metrics(host: str | None, port: int | None) -> None:
    """Serve Prometheus metrics: this host's workers, and queues, dead letters, tokens, runs, the gateway.

    Every scrape needs the scrape token (sent as Authorization: Bearer) or an operator account's basic credentials.

    \b
    Example (prometheus.yml: target localhost:9808, authorization: {credentials_file: /etc/prometheus/organism}):
      ORGANISM_OBSERVABILITY__SCRAPE_TOKEN="$(cat /etc/prometheus/organism)" organism metrics --port 9808
    """
    app = app_or_exit()
    app.set_default()  # the app of every server thread, not only of this one
    from organism.observability.exporter import metrics_app

    settings = app.settings.observability
    if settings.scrape_token is None and _without_accounts(app.settings):
        raise click.ClickException("no one could scrape /metrics: set ORGANISM_OBSERVABILITY__SCRAPE_TOKEN "
                                   "(Prometheus sends it as a bearer token) or create an account with "
                                   "`organism operators add`")
    _serve(metrics_app(app), host or settings.metrics_host, port or settings.metrics_port, "metrics")


@click.command(context_settings={"ignore_unknown_options": True})
@click.option("--host", help="Address to listen on (default: ORGANISM_OBSERVABILITY__FLOWER_HOST, 127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), help="Port (default: ORGANISM_OBSERVABILITY__FLOWER_PORT, "
                                                             "5555).")
@click.argument("flower_args", nargs=-1, type=click.UNPROCESSED)
def flower(host: str | None, port: int | None, flower_args: tuple[str, ...]) -> None:
    """Run Flower against the configured broker, every page (``/metrics`` too) for operator accounts only.

    Operators sign in with the accounts of the console (`organism operators`); scripts may send them as basic
    credentials. Viewers may read, but only operators may act (revoke, rate limits, pool changes).

    Flower remembers the tasks it saw across restarts, as JSON lines in <data_dir>/flower (its own persistent
    mode stores a pickle, which Organism does not load). On RabbitMQ its Broker page reads the management API:
    ORGANISM_OBSERVABILITY__FLOWER_BROKER_API, else the plugin on the broker's host as the broker's user.

    \b
    Example:
      organism flower --port 5555
    """
    from organism.observability import flower_login

    settings = settings_or_exit()
    observability = settings.observability
    options = {arg.lstrip("-").partition("=")[0].replace("-", "_") for arg in flower_args}
    if "persistent" in options or "FLOWER_PERSISTENT" in os.environ:
        raise click.ClickException("Flower's persistent mode stores its state as a pickle (flower.db), which "
                                   "Organism does not load: drop --persistent / FLOWER_PERSISTENT")
    # Stated, not left to the default: a flowerconfig.py in the working directory could turn it on, and the
    # command line wins over it.
    accounts = [] if observability.flower_allow_anonymous else [f"--auth={flower_login.AUTH_PATTERN}",
                                                                f"--auth_provider={flower_login.PROVIDER}"]
    command = [sys.executable, "-m", "organism.observability.flower_server",
               f"--address={host or observability.flower_host}", f"--port={port or observability.flower_port}",
               "--persistent=False", *accounts, *flower_args]
    if accounts and _without_accounts(settings):
        click.echo(f"flower: {NO_ACCOUNT}", err=True)
    env = {name: value for name, value in os.environ.items() if name not in FLOWER_AUTH_VARIABLES}
    if observability.console_secret_key is not None:  # sessions outlive a restart, as the console's do
        # Its own key, derived: in Flower's environment, not on its command line, where `ps` would show it.
        key = observability.console_secret_key.get_secret_value().encode()
        env["FLOWER_COOKIE_SECRET"] = hmac.new(key, b"flower sessions", hashlib.sha256).hexdigest()
    broker_api = _broker_api(settings)
    if broker_api is not None:  # in Flower's environment too: it carries a password
        env["FLOWER_BROKER_API"] = broker_api
        click.echo(f"flower: the Broker page reads RabbitMQ's management API at {masked(broker_api)}")
    try:
        os.execve(command[0], command, env)
    except OSError as error:
        raise click.ClickException(f"could not start Flower: {error}") from None


@click.group()
def health() -> None:
    """Probes: worker liveness from heartbeat files, readiness of broker and store.

    \b
    Examples (exit 0 when healthy, 1 when not):
      organism health worker --node perception@$(hostname)
      organism health ready
    """


@health.command("worker")
@click.option("--node", help="Only this worker (its node name, e.g. perception@host); default: every worker here.")
@click.option("--max-age", "max_age_s", type=float, help="Seconds a heartbeat may be old (default: "
                                                          "ORGANISM_OBSERVABILITY__HEARTBEAT_MAX_AGE_S, 60).")
def health_worker(node: str | None, max_age_s: float | None) -> None:
    """Liveness of this host's workers, from their heartbeat files: no broker involved."""
    from organism.observability.health import heartbeats

    settings = settings_or_exit()
    folder = settings.observability.health_path(settings.data_dir)
    limit = max_age_s or settings.observability.heartbeat_max_age_s
    beats = [beat for beat in heartbeats(folder) if node is None or beat.node == node]
    if not beats:
        raise click.ClickException(f"no heartbeat {'of ' + node + ' ' if node else ''}in {folder}: the worker is "
                                   "not running, not ready yet, or writes elsewhere (ORGANISM_DATA_DIR)")
    now, stale = time.time(), 0
    for beat in beats:
        fresh = beat.age_s(now) <= limit
        stale += not fresh
        click.echo(f"{'ok  ' if fresh else 'DEAD'}  {beat.node} pid {beat.pid}: last beat {beat.age_s(now):.1f}s ago")
    if stale:
        sys.exit(1)


@health.command("ready")
def health_ready() -> None:
    """Readiness: the broker answers and the store is at the current schema."""
    from organism.observability.health import readiness

    checks = readiness(settings_or_exit())
    for check in checks:
        click.echo(check.line())
    if not all(check.ok for check in checks):
        sys.exit(1)
