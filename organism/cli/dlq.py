"""``organism dlq``: list, show, replay and purge dead letters."""

from __future__ import annotations

import json
from datetime import datetime

import click
from rich.console import Console
from rich.table import Table

from organism.audit.details import replay_detail
from organism.cli.audit import audited_command
from organism.cli.context import app_or_exit, require, services_or_exit
from organism.cli.doctor import check_broker
from organism.failures import dead_letters
from organism.failures.replay import Arguments, ReplayRefused
from organism.failures.replay import replay as replay_letter
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


def _arguments(given: str | None) -> Arguments | None:
    """``--arguments '{"args": [...], "kwargs": {...}}'`` as the replay's arguments."""
    if given is None:
        return None
    try:
        value = json.loads(given)
    except json.JSONDecodeError as error:
        raise click.BadParameter(f"not JSON: {error}", param_hint="--arguments") from None
    if not isinstance(value, dict) or set(value) - {"args", "kwargs"}:
        raise click.BadParameter('give {"args": [...], "kwargs": {...}}', param_hint="--arguments")
    args, kwargs = value.get("args", []), value.get("kwargs", {})
    if not isinstance(args, list) or not isinstance(kwargs, dict):
        raise click.BadParameter("args must be a JSON list and kwargs a JSON object", param_hint="--arguments")
    return Arguments(args, kwargs)


@dlq.command()
@click.argument("letter_id", type=int, required=False)
@click.option("--all", "everything", is_flag=True, help="Replay every dead letter that matches the filters.")
@click.option("--skill", help="With --all: only this skill.")
@click.option("--since", type=click.DateTime(), help="With --all: only since then (UTC).")
@click.option("--force", is_flag=True, help="Also replay skills declared unsafe.")
@click.option("--arguments", "edited", metavar="JSON",
              help='Replay one letter with these arguments instead: \'{"args": [...], "kwargs": {...}}\' (checked '
                   "against the skill first; the record keeps the original ones).")
@services_or_exit
def replay(letter_id: int | None, everything: bool, skill: str | None, since: datetime | None, force: bool,
           edited: str | None) -> None:
    """Publish dead letters again with a fresh retry budget (replaying twice publishes once).

    A letter of a workflow node is replayed into its run; once none of the run's nodes is failed any more, the
    run goes on. Each letter gets one line; the command fails if any was not replayed.
    """
    if (letter_id is None) == (not everything):
        raise click.UsageError("give one dead letter ID, or --all (with --skill/--since to narrow it)")
    if edited is not None and everything:
        raise click.UsageError("--arguments replays one letter: give its ID instead of --all")
    arguments = _arguments(edited)
    app = app_or_exit()
    require(check_broker(app.settings))  # a broker out of reach: its one line once, not once per letter
    ids = [letter_id] if letter_id is not None else [
        letter.id for letter in dead_letters.find(app.settings.database, skill=skill, since=since)]
    refused = 0
    shown = {"args": arguments.args, "kwargs": arguments.kwargs} if arguments else None
    for one in ids:
        try:
            with audited_command(app.settings, action="dlq.replay", target=f"dead-letter {one}",
                                 detail=replay_detail(app.settings.database, one, force=force, edited=shown)) as entry:
                entry.outcome_detail = done = str(replay_letter(app, one, force=force, arguments=arguments))
            click.echo(done)
        except ReplayRefused as error:
            refused += 1
            click.echo(f"not replayed: {error}", err=True)
    if refused:
        click.echo(f"{len(ids) - refused} of {len(ids)} replayed, {refused} not (see above)", err=True)
        raise SystemExit(1)


@dlq.command()
@click.argument("letter_ids", type=int, nargs=-1)
@click.option("--all", "everything", is_flag=True, help="Purge every dead letter not yet replayed.")
@services_or_exit
def purge(letter_ids: tuple[int, ...], everything: bool) -> None:
    """Mark dead letters purged: they stay on record but are no longer listed or replayable."""
    if not letter_ids and not everything:
        raise click.UsageError("give dead letter IDs, or --all")
    settings = app_or_exit().settings
    target = "every dead letter" if everything else "dead-letters " + ", ".join(map(str, letter_ids))
    with audited_command(settings, action="dlq.purge", target=target,
                         detail={"all": True} if everything else {"ids": list(letter_ids)}) as entry:
        count = dead_letters.purge(settings.database, None if everything else list(letter_ids))
        entry.outcome_detail = f"purged {count}"
    click.echo(f"purged {count} dead letter(s)")
