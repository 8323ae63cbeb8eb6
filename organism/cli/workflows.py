"""Workflow commands: ``organism run NAME --param k=v``, ``organism sync`` (the Daily Sync's short form) and
``organism workflows``; and following a run until it ends."""

from __future__ import annotations

import json
import sys
from contextlib import nullcontext
from datetime import UTC, datetime
from typing import Any, NoReturn

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from organism.cli.audit import audited_command
from organism.cli.context import ensure_store, require, services_or_exit, workflows_or_exit
from organism.settings import Settings

console = Console()
DAILY_SYNC = "daily-sync"


def _params(pairs: tuple[str, ...]) -> dict[str, Any]:
    """``k=v`` pairs as raw parameters; a value that is a JSON array or object is read as JSON."""
    params: dict[str, Any] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise click.ClickException(f"--param {pair!r}: not NAME=VALUE")
        if value.startswith(("[", "{")):
            try:
                params[name] = json.loads(value)
                continue
            except ValueError as error:
                raise click.ClickException(f"--param {name}: not valid JSON ({error})") from None
        params[name] = value
    return params


def _launch(name: str, params: dict[str, Any], wait: bool, local_workers: bool, timeout_s: float) -> None:
    """Start a run of ``name`` (one per run key) and follow it if asked; a bad parameter is one line, exit 2."""
    from organism.cli.doctor import check_broker, check_results
    from organism.local import LocalWorkers
    from organism.security.payloads import PayloadError
    from organism.workflows.queries import find_run
    from organism.workflows.registry import UnknownWorkflow, workflow
    from organism.workflows.start import InvalidParameters, parameters, start

    app = workflows_or_exit()
    settings = app.settings
    try:  # refused before any service is touched
        parameters(app, workflow(app, name), params)
    except (UnknownWorkflow, InvalidParameters) as error:
        raise click.ClickException(str(error)) from None
    ensure_store(settings)
    require(check_broker(settings), check_results(settings))
    workers = LocalWorkers(settings) if local_workers else None
    with workers or nullcontext():
        with audited_command(settings, action="workflow.start", target=name, detail={"params": params}) as entry:
            try:
                started = start(app, name, params)  # BrokerUnavailable is reported by services_or_exit
            except PayloadError as error:  # a sensitive skill and no payload key: nothing was written or sent
                raise click.ClickException(str(error)) from None
            entry.outcome_detail = (f"started run {started.key} ({started.run_id})" if started.created else
                                    f"run {started.key} already exists, nothing started")
        if started.created:
            console.print(f"started run [bold]{started.key}[/] ({started.run_id})")
        else:
            found = find_run(settings.database, started.run_id)
            following = "; following it" if wait or local_workers else ""
            console.print(f"run [bold]{started.key}[/] already exists ({found.status if found else '?'}){following}")
        if wait or local_workers:
            follow(settings, started.run_id, workers, timeout_s)


_WAIT = click.option("--wait/--no-wait", default=False, help="Follow the run until it finishes.")
_LOCAL = click.option("--local-workers", is_flag=True, help="Start one worker per organ here for the run's duration.")
_TIMEOUT = click.option("--timeout", "timeout_s", type=float, default=600, show_default=True, help="Seconds to wait.")


@click.command()
@click.argument("name")
@click.option("--param", "-p", "pairs", multiple=True, metavar="NAME=VALUE",
              help="A parameter of the workflow (repeat for several); `organism workflows` lists them.")
@_WAIT
@_LOCAL
@_TIMEOUT
@services_or_exit
def run(name: str, pairs: tuple[str, ...], wait: bool, local_workers: bool, timeout_s: float) -> None:
    """Start a run of workflow NAME (at most one per run key) and optionally follow it.

    \b
    Example:
      organism run daily-sync --param date=2026-11-20 --param window_hours=48 --wait
    """
    _launch(name, _params(pairs), wait, local_workers, timeout_s)


@click.command()
@click.option("--date", "day", help="Run for this date, YYYY-MM-DD (default: today in the schedule's zone).")
@_WAIT
@_LOCAL
@_TIMEOUT
@services_or_exit
def sync(day: str | None, wait: bool, local_workers: bool, timeout_s: float) -> None:
    """Start the Daily Sync (once per date) and optionally follow it: `organism run daily-sync` in short.

    \b
    Example, on one machine with nothing installed:
      organism sync --wait --local-workers
    """
    _launch(DAILY_SYNC, {"date": day} if day else {}, wait, local_workers, timeout_s)


@click.command()
def workflows() -> None:
    """List the workflows: their parameters, and their schedules with the next firing in each one's zone."""
    from organism.workflows.registry import schedules
    from organism.workflows.registry import workflows as declared
    from organism.workflows.schedules import next_firing

    app = workflows_or_exit()
    now = datetime.now(UTC)
    for workflow in declared(app):
        console.rule(f"[bold]{workflow.name}[/]")
        if workflow.description:
            console.print(workflow.description, highlight=False)
        table = Table("parameter", "type", "default", "meaning", box=None)
        for param in workflow.parameters:
            table.add_row(*map(escape, (param.name, param.kind, param.default, param.description)))
        console.print(table)
        in_force = schedules(workflow, app.settings)
        if not in_force:
            console.print("schedules: none (runs only when started)")
        for schedule in in_force:
            upcoming = next_firing(schedule, now)
            when = f"next {upcoming:%Y-%m-%d %H:%M %Z}" if upcoming else "never fires"
            window_h = schedule.catch_up_window.total_seconds() / 3600
            console.print(f"schedule [bold]{schedule.cron}[/] in {schedule.zone}: {when} (catch-up "
                          f"{schedule.catch_up.value} within {window_h:g} h, overlap {schedule.overlap.value})",
                          highlight=False)


def follow(settings: Settings, run_id: str, workers: Any, timeout_s: float) -> NoReturn:
    """Show a run's progress until it ends; exit 0 if it succeeded, 1 if it failed, 2 if still open."""
    from organism.cli.progress import follow as progress
    from organism.settings import masked
    from organism.store.models import Run
    from organism.workflows.queries import report_of

    def stalled(run: Run, elapsed: float) -> str | None:
        dead = workers.dead() if workers else []
        if dead:
            return f"worker for {', '.join(dead)} exited; its log:\n{workers.log_tail(dead[0])}"
        if elapsed > 15 and all(n.status == "pending" for n in run.nodes):
            return (f"no worker has started the run after {elapsed:.0f}s: is one consuming queue "
                    f"'{run.nodes[0].organ}'? Start `organism worker`, or use --local-workers.")
        return None

    found = progress(settings.database, run_id, console, timeout_s, stalled)
    if found.status == "succeeded":
        report = report_of(settings.database, run_id)
        if report is not None:
            console.print()
            console.rule("report")
            console.print(report.summary)
        for line in found.degraded:
            console.print(f"[yellow]degraded[/] {line}")
        console.print(f"report stored in organism_reports (run {run_id}) at {masked(settings.database)}; "
                      f"`organism runs show {found.key}` shows it again")
        sys.exit(0)
    if found.status in ("failed", "skipped"):
        console.print(f"[bold red]run {found.key} {found.status}[/]: {found.error}")
        sys.exit(1)
    console.print(f"[yellow]run {found.key} still {found.status} after {timeout_s:.0f}s[/]; "
                  f"`organism runs show {found.key}` shows where it is")
    sys.exit(2)
