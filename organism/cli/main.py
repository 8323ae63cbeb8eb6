"""The ``organism`` command: start and follow runs, list them, check the installation, run processes."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, NoReturn

import click
from rich.console import Console
from rich.table import Table

from organism.cli.context import app_or_exit, services_or_exit, settings_or_exit
from organism.cli.dlq import dlq
from organism.cli.gateway import fake_model, ledger
from organism.cli.ops import console as console_command
from organism.cli.ops import flower, health, metrics
from organism.settings import Settings

if TYPE_CHECKING:
    from organism.cli.doctor import Check

console = Console()


def _ensure_store(settings: Settings) -> None:
    """Migrate an SQLite store in place (the embedded profile has nothing to set up); check any other."""
    from organism import store
    from organism.cli.doctor import check_store
    from organism.store.db import sqlite_file

    if sqlite_file(settings.database):
        store.migrate(settings.database)
        return
    _require(check_store(settings))


def _require(*checks: Check) -> None:
    """Exit with the first failed check's line: a canvas half published, or a run half reset, helps no one."""
    failed = next((check for check in checks if not check.ok), None)
    if failed is not None:
        raise click.ClickException(failed.line())


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Organism runs AI agent skills as Celery tasks, one queue per organ.

    \b
    Configuration comes from ORGANISM_* variables or config/organism.toml, e.g.
      ORGANISM_PROFILE=production organism doctor
    """


@main.command()
@click.option("--date", "day", type=click.DateTime(["%Y-%m-%d"]), help="Run for this date (default: today).")
@click.option("--wait/--no-wait", default=False, help="Follow the run until it finishes.")
@click.option("--local-workers", is_flag=True, help="Start one worker per organ here for the run's duration.")
@click.option("--timeout", "timeout_s", type=float, default=600, show_default=True, help="Seconds to wait.")
@services_or_exit
def sync(day: datetime | None, wait: bool, local_workers: bool, timeout_s: float) -> None:
    """Start the Daily Sync (once per date) and optionally follow it.

    \b
    Example, on one machine with nothing installed:
      organism sync --wait --local-workers
    """
    from organism.cli.doctor import check_broker, check_results

    settings = settings_or_exit()
    _ensure_store(settings)
    _require(check_broker(settings), check_results(settings))
    app = app_or_exit()
    from organism.local import LocalWorkers

    workers = LocalWorkers(settings) if local_workers else None
    with workers or nullcontext():
        run_id = _start(app, day.date() if day else None)
        if wait or local_workers:
            _follow(settings, run_id, workers, timeout_s)


def _start(app: Any, day: date | None) -> str:
    from organism.workflows.runs import find_run, start

    started = start(app, "daily-sync", day)  # BrokerUnavailable is reported by services_or_exit
    if started.created:
        console.print(f"started run [bold]{started.key}[/] ({started.run_id})")
    else:
        run = find_run(app.settings.database, started.run_id)
        console.print(f"run [bold]{started.key}[/] already exists ({run.status if run else '?'}); following it")
    return started.run_id


def _follow(settings: Settings, run_id: str, workers: Any, timeout_s: float) -> NoReturn:
    from organism.cli.progress import follow
    from organism.settings import masked
    from organism.store.models import Run
    from organism.workflows.runs import report_of

    def stalled(run: Run, elapsed: float) -> str | None:
        dead = workers.dead() if workers else []
        if dead:
            return f"worker for {', '.join(dead)} exited; its log:\n{workers.log_tail(dead[0])}"
        if elapsed > 15 and all(n.status == "pending" for n in run.nodes):
            return (f"no worker has started the run after {elapsed:.0f}s: is one consuming queue "
                    f"'{run.nodes[0].organ}'? Start `organism worker`, or use --local-workers.")
        return None

    run = follow(settings.database, run_id, console, timeout_s, stalled)
    if run.status == "succeeded":
        report = report_of(settings.database, run_id)
        if report is not None:
            console.print()
            console.rule("report")
            console.print(report.summary)
        for line in run.degraded:
            console.print(f"[yellow]degraded[/] {line}")
        console.print(f"report stored in organism_reports (run {run_id}) at {masked(settings.database)}; "
                      f"`organism runs show {run.key}` shows it again")
        sys.exit(0)
    if run.status == "failed":
        console.print(f"[bold red]run {run.key} failed[/]: {run.error}")
        sys.exit(1)
    console.print(f"[yellow]run {run.key} still {run.status} after {timeout_s:.0f}s[/]; "
                  f"`organism runs show {run.key}` shows where it is")
    sys.exit(2)


@main.group(invoke_without_command=True)
@click.option("--limit", default=20, show_default=True)
@click.pass_context
@services_or_exit
def runs(ctx: click.Context, limit: int) -> None:
    """List runs with their status and the duration of each phase."""
    if ctx.invoked_subcommand:
        return
    from organism.workflows.runs import phase_durations, recent_runs

    settings = settings_or_exit()
    _ensure_store(settings)
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
    """Show one run (by key or id): its nodes, its history and its report."""
    from organism.workflows.runs import find_run, report_of

    settings = settings_or_exit()
    run = find_run(settings.database, ref)
    if run is None:
        raise click.ClickException(f"no run {ref!r}; `organism runs` lists them")
    table = Table("node", "skill", "organ", "status", "attempts", "seconds", "error / degraded",
                  title=f"{run.key}: {run.status}" + (f" — {run.error}" if run.error else ""))
    for n in run.nodes:
        secs = (n.finished_at - n.started_at).total_seconds() if n.finished_at and n.started_at else None
        notes = n.error or "; ".join(f"without {d['dependency']}: {d['reason']}" for d in n.degraded or [])
        table.add_row(n.name, n.skill, n.organ, n.status, str(n.attempts), f"{secs:.2f}" if secs is not None else "",
                      notes)
    console.print(table)
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
    from organism.workflows.runs import CannotResume, resume

    app = app_or_exit()
    _require(check_broker(app.settings), check_results(app.settings))
    try:
        started = resume(app, ref)
    except CannotResume as error:
        raise click.ClickException(str(error)) from None
    console.print(f"resumed run [bold]{started.key}[/] ({started.run_id})")
    if wait:
        _follow(app.settings, started.run_id, None, timeout_s)


@main.command()
def doctor() -> None:
    """Check every configured URL; exit 1 if any is unreachable."""
    from organism.cli.doctor import check_all

    settings = settings_or_exit()
    checks = check_all(settings)
    click.echo(f"profile {settings.profile.value}")
    for check in checks:
        click.echo(check.line())
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
    _ensure_store(settings)
    command = worker_command(settings, list(organs or settings.organs), concurrency) + list(celery_args)
    with _exec_errors():
        os.execv(command[0], command)


@main.command(context_settings={"ignore_unknown_options": True})
@click.argument("celery_args", nargs=-1, type=click.UNPROCESSED)
def beat(celery_args: tuple[str, ...]) -> None:
    """Run the one beat process that starts the Daily Sync every day."""
    settings = settings_or_exit()
    _ensure_store(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "celery", "-A", "organism.app", "beat",
               "-s", str(settings.data_dir / "beat-schedule"), *celery_args]
    with _exec_errors():
        os.execv(command[0], command)


main.add_command(dlq)
main.add_command(console_command)
main.add_command(metrics)
main.add_command(flower)
main.add_command(health)
main.add_command(ledger)
main.add_command(fake_model)
