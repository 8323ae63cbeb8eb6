"""The ``organism`` command: start and follow runs, list them, check the installation, run processes."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.table import Table

from organism.cli import workflows as workflow_commands
from organism.cli.analyze import analyze
from organism.cli.audit import audit, audited_command
from organism.cli.context import (
    app_or_exit,
    ensure_store,
    require,
    services_or_exit,
    settings_or_exit,
    workflows_or_exit,
)
from organism.cli.deploy import deploy
from organism.cli.dlq import dlq
from organism.cli.gateway import ledger
from organism.cli.keys import keys
from organism.cli.operators import operators
from organism.cli.ops import console as console_command
from organism.cli.ops import flower, health, metrics

if TYPE_CHECKING:
    pass

console = Console()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Organism runs AI agent skills as Celery tasks, one queue per organ.

    \b
    Configuration comes from ORGANISM_* variables or config/organism.toml, e.g.
      ORGANISM_PROFILE=production organism doctor
    """


@main.group(invoke_without_command=True)
@click.option("--limit", default=20, show_default=True)
@click.pass_context
@services_or_exit
def runs(ctx: click.Context, limit: int) -> None:
    """List runs with their status and the duration of each phase."""
    if ctx.invoked_subcommand:
        return
    from organism.workflows.queries import phase_durations, recent_runs

    settings = settings_or_exit()
    ensure_store(settings)
    table = Table("run", "status", "started", "total", "phases")
    for run in recent_runs(settings.database, limit):
        total = (run.finished_at - run.created_at).total_seconds() if run.finished_at else None
        phases = "  ".join(f"{name} {secs:.2f}s" if secs is not None else f"{name} {status}"
                           for name, status, secs in phase_durations(run))
        status = f"{run.status} (degraded)" if run.degraded else run.status
        table.add_row(run.key, status, f"{run.created_at:%Y-%m-%d %H:%M:%S}",
                      f"{total:.2f}s" if total is not None else "", phases)
    console.print(table)


@runs.command("show")
@click.argument("ref")
@services_or_exit
def runs_show(ref: str) -> None:
    """Show one run (by key or id): its parameters, nodes, history and report."""
    from organism.workflows.queries import find_run, node_seconds, node_status, report_of

    settings = settings_or_exit()
    run = find_run(settings.database, ref)
    if run is None:
        raise click.ClickException(f"no run {ref!r}; `organism runs` lists them")
    table = Table("node", "skill", "organ", "status", "attempts", "seconds", "error / degraded",
                  title=f"{run.key}: {run.status}" + (f" — {run.error}" if run.error else ""))
    for n in run.nodes:
        total, last = node_seconds(n)
        seconds = "" if total is None else f"{total:.2f}" + (f" (last {last:.2f})" if n.attempts > 1 else "")
        notes = n.error or "; ".join(f"without {d['dependency']}: {d['reason']}" for d in n.degraded or [])
        table.add_row(n.name, n.skill, n.organ, node_status(run, n), str(n.attempts), seconds, notes)
    console.print(table)
    for name, value in (run.params or {}).items():
        console.print(f"{name} = {value}", markup=False, highlight=False, soft_wrap=True)
    for entry in run.history or []:
        console.print(f"{entry['at']}  {entry['event']}: {entry['detail']}", markup=False, highlight=False,
                      soft_wrap=True)
    report = report_of(settings.database, run.id)
    if report:
        console.print(report.summary)


@runs.command("resume")
@click.argument("ref")
@click.option("--wait/--no-wait", default=False, help="Follow the run until it finishes.")
@click.option("--timeout", "timeout_s", type=float, default=600, show_default=True, help="Seconds to wait.")
@services_or_exit
def runs_resume(ref: str, wait: bool, timeout_s: float) -> None:
    """Re-run the nodes of a failed run that did not succeed, reusing the stored results of the others."""
    from organism.cli.doctor import check_broker, check_results
    from organism.workflows.start import BrokerUnavailable, CannotResume, resume

    app = app_or_exit()
    require(check_broker(app.settings), check_results(app.settings))
    try:
        with audited_command(app.settings, action="run.resume", target=ref, detail={}) as entry:
            started = resume(app, ref)
            entry.outcome_detail = f"resumed run {started.key} ({started.run_id})"
    except (CannotResume, BrokerUnavailable) as error:
        raise click.ClickException(str(error)) from None
    console.print(f"resumed run [bold]{started.key}[/] ({started.run_id})")
    if wait:
        workflow_commands.follow(app.settings, started.run_id, None, timeout_s)


@runs.command("cancel")
@click.argument("ref")
@services_or_exit
def runs_cancel(ref: str) -> None:
    """Cancel a pending, running or failed run: revoke its unfinished nodes; the run ends cancelled."""
    from organism.audit import cli_actor
    from organism.workflows.cancel import CannotCancel, cancel

    app = app_or_exit()
    who = cli_actor(app.settings).who
    try:
        with audited_command(app.settings, action="run.cancel", target=ref, detail={}) as entry:
            done = cancel(app, ref, by=f"by `organism runs cancel` ({who})")
            entry.outcome_detail = str(done)
    except CannotCancel as error:
        raise click.ClickException(str(error)) from None
    click.echo(str(done))


@main.command()
def doctor() -> None:
    """Check every configured URL and RabbitMQ's organ queues; exit 1 if any fails. Settings a production
    checklist rejects get a WARN line each, which does not change the exit code."""
    from organism.cli.checklist import cautions
    from organism.cli.doctor import check_all

    settings = settings_or_exit()
    checks = check_all(settings)
    click.echo(f"profile {settings.profile.value}")
    for check in checks:
        click.echo(check.line())
    for caution in cautions(settings):
        click.echo(caution.line())
    if not all(c.ok for c in checks):
        sys.exit(1)


@main.command()
@services_or_exit
def migrate() -> None:
    """Create or upgrade the store's tables."""
    from organism import store
    from organism.settings import masked

    settings = settings_or_exit()
    store.migrate(settings.database)
    click.echo(f"store at {masked(settings.database)} is at revision {store.head_revision()}")


@contextmanager
def _exec_errors() -> Iterator[None]:
    try:
        yield
    except OSError as error:
        raise click.ClickException(f"could not start: {error}") from None


@main.command(context_settings={"ignore_unknown_options": True})
@click.option("--organ", "organs", multiple=True, help="Organ(s) to serve (default: all).")
@click.option("--concurrency", "-c", type=int, help="Processes (default: from settings).")
@click.argument("celery_args", nargs=-1, type=click.UNPROCESSED)
def worker(organs: tuple[str, ...], concurrency: int | None, celery_args: tuple[str, ...]) -> None:
    """Run a worker for some organs, e.g. `organism worker --organ perception`."""
    from organism.local import worker_command

    settings = settings_or_exit()
    unknown = set(organs) - set(settings.organs)
    if unknown:
        raise click.ClickException(f"unknown organ(s) {', '.join(sorted(unknown))}; "
                                   f"configured: {', '.join(settings.organs)}")
    ensure_store(settings)
    command = worker_command(settings, list(organs or settings.organs), concurrency) + list(celery_args)
    with _exec_errors():
        os.execv(command[0], command)


@main.command(context_settings={"ignore_unknown_options": True})
@click.argument("celery_args", nargs=-1, type=click.UNPROCESSED)
def beat(celery_args: tuple[str, ...]) -> None:
    """Run the one beat process: it starts every workflow on its schedules (`organism workflows` lists them)."""
    settings = workflows_or_exit().settings
    ensure_store(settings)
    command = [sys.executable, "-m", "celery", "-A", "organism.app", "beat", *celery_args]
    with _exec_errors():
        os.execv(command[0], command)


main.add_command(workflow_commands.run)
main.add_command(workflow_commands.sync)
main.add_command(workflow_commands.workflows)
main.add_command(dlq)
main.add_command(console_command)
main.add_command(metrics)
main.add_command(flower)
main.add_command(health)
main.add_command(ledger)
main.add_command(analyze)
main.add_command(audit)
main.add_command(operators)
main.add_command(deploy)
main.add_command(keys)
