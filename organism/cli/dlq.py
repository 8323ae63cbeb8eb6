"""``organism dlq``: list, show, replay and purge dead letters."""

from __future__ import annotations

import json
from datetime import datetime

import click
from rich.console import Console
from rich.table import Table

from organism.cli.context import app_or_exit, services_or_exit
from organism.failures import dead_letters
from organism.store.models import DeadLetterStatus

console = Console()


@click.group()
def dlq() -> None:
    """Dead letters: messages Organism gave up on, with why.

    \b
    Examples:
      organism dlq list --skill q1p0.pain_scanner
      organism dlq replay 12
      organism dlq replay --all --since 2026-11-23
    """


@dlq.command("list")
@click.option("--skill", help="Only this skill (task name).")
@click.option("--since", type=click.DateTime(), help="Only dead letters written since then (UTC).")
@click.option("--status", type=click.Choice([s.value for s in DeadLetterStatus]), default="dead", show_default=True)
@services_or_exit
def list_(skill: str | None, since: datetime | None, status: str) -> None:
    """List dead letters."""
    app = app_or_exit()
    table = Table("id", "when", "skill", "organ", "reason", "error", "attempts", "run")
    for letter in dead_letters.find(app.settings.database, skill=skill, since=since, status=DeadLetterStatus(status)):
        table.add_row(str(letter.id), f"{letter.created_at:%Y-%m-%d %H:%M:%S}", letter.task_name, letter.organ or "",
                      letter.reason, f"{letter.error_type}: {letter.error_message}"[:80], str(len(letter.attempts)),
                      letter.run_id or "")
    console.print(table)


@dlq.command()
@click.argument("letter_id", type=int)
@services_or_exit
def show(letter_id: int) -> None:
    """Everything about one dead letter: arguments, attempts, traceback."""
    letter = dead_letters.get(app_or_exit().settings.database, letter_id)
    if letter is None:
        raise click.ClickException(f"no dead letter {letter_id}; `organism dlq list` shows them")
    for name in ("id", "task_id", "task_name", "organ", "run_id", "node", "reason", "status", "delivery_count",
                 "created_at", "replayed_at", "replayed_as", "replay_of"):
        click.echo(f"{name:>15}: {getattr(letter, name)}")
    click.echo(f"{'args':>15}: {json.dumps(letter.args, ensure_ascii=False)}")
    click.echo(f"{'kwargs':>15}: {json.dumps(letter.kwargs, ensure_ascii=False)}")
    click.echo(f"{'error':>15}: {letter.error_type}: {letter.error_message}")
    for n, attempt in enumerate(letter.attempts, 1):
        click.echo(f"{'attempt ' + str(n):>15}: {attempt['at']}  {attempt['action']:<6} {attempt['error']}")
    click.echo(letter.traceback or "")


@dlq.command()
@click.argument("letter_id", type=int, required=False)
@click.option("--all", "everything", is_flag=True, help="Replay every dead letter that matches the filters.")
@click.option("--skill", help="With --all: only this skill.")
@click.option("--since", type=click.DateTime(), help="With --all: only since then (UTC).")
@click.option("--force", is_flag=True, help="Also replay skills declared unsafe.")
@services_or_exit
def replay(letter_id: int | None, everything: bool, skill: str | None, since: datetime | None, force: bool) -> None:
    """Publish dead letters again with a fresh retry budget (replaying twice publishes once)."""
    if (letter_id is None) == (not everything):
        raise click.UsageError("give one dead letter ID, or --all (with --skill/--since to narrow it)")
    app = app_or_exit()
    ids = [letter_id] if letter_id is not None else [
        letter.id for letter in dead_letters.find(app.settings.database, skill=skill, since=since)]
    refused = 0
    for one in ids:
        try:
            click.echo(f"dead letter {one} replayed as task {dead_letters.replay(app, one, force=force)}")
        except dead_letters.ReplayRefused as error:
            refused += 1
            click.echo(f"not replayed: {error}", err=True)
    if refused:
        raise SystemExit(1)


@dlq.command()
@click.argument("letter_ids", type=int, nargs=-1)
@click.option("--all", "everything", is_flag=True, help="Purge every dead letter not yet replayed.")
@services_or_exit
def purge(letter_ids: tuple[int, ...], everything: bool) -> None:
    """Mark dead letters purged: they stay on record but are no longer listed or replayable."""
    if not letter_ids and not everything:
        raise click.UsageError("give dead letter IDs, or --all")
    count = dead_letters.purge(app_or_exit().settings.database, None if everything else list(letter_ids))
    click.echo(f"purged {count} dead letter(s)")
