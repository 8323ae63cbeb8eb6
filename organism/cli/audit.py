"""``organism audit``: the audit trail (who did what, from where, how it ended), its check, and its public key;
and :func:`audited_command`, with which commands record what they do."""

from __future__ import annotations

import json
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from organism.audit import Outcome, audited, cli_actor
from organism.audit.keys import AuditKeyError, fingerprint, public_pem, read_public, signing_key
from organism.audit.read import Filters, at_in, entries, parse_since
from organism.audit.verify import verify as check
from organism.cli.context import services_or_exit, settings_or_exit
from organism.settings import Settings

console = Console()
DETAIL_SHOWN_CHARS = 200


def audited_command(settings: Settings, *, action: str, target: str, detail: dict[str, Any]
                    ) -> AbstractContextManager[Outcome]:
    """Record the block as ``action`` by this command's user (``ORGANISM_OPERATOR`` or the OS user) from this host;
    without a usable audit key, exit 1 with one line before the action is done."""
    try:
        signing_key(settings)
    except AuditKeyError as error:
        raise click.ClickException(str(error)) from None
    actor = cli_actor(settings)
    return audited(settings.database, who=actor.who, source=actor.source, action=action, target=target,
                   detail=detail)


@click.group(invoke_without_command=True)
@click.option("--since", metavar="TIME", help="Only entries since then: 2026-12-05 or 2026-12-05T06:00 in the "
              "configured zone, or a time with its offset.")
@click.option("--who", help="Only this operator's entries.")
@click.option("--action", help="Only this action, e.g. dlq.replay.")
@click.option("--limit", default=50, show_default=True, help="Show the newest this many.")
@click.pass_context
@services_or_exit
def audit(ctx: click.Context, since: str | None, who: str | None, action: str | None, limit: int) -> None:
    """The audit trail: who did what, from where, and how it ended (the newest entries, oldest first).

    \b
    Examples:
      organism audit --since 2026-12-05 --who alice
      organism audit verify
      organism audit key > audit-key.pub.pem
    """
    if ctx.invoked_subcommand:
        return
    settings = settings_or_exit()
    try:
        start = parse_since(since, settings.zone) if since else None
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--since") from None
    table = Table("id", f"when ({settings.timezone})", "who", "from", "action", "target", "outcome", "detail")
    for entry in reversed(entries(settings.database, Filters(who, action, start), limit)):
        detail = json.dumps(entry.detail, ensure_ascii=False)
        if len(detail) > DETAIL_SHOWN_CHARS:
            detail = detail[:DETAIL_SHOWN_CHARS] + "…"
        table.add_row(str(entry.id), f"{at_in(entry.at, settings.zone):%Y-%m-%d %H:%M:%S %Z}",
                      *map(escape, (entry.who, entry.source, entry.action, entry.target, entry.outcome, detail)))
    console.print(table)


@audit.command()
@click.option("--public-key", type=click.Path(path_type=Path, dir_okay=False), metavar="PEM",
              help="Check the signatures with this copy of the public key, not the key the deployment holds.")
@services_or_exit
def verify(public_key: Path | None) -> None:
    """Check every entry (consecutive ids, each linked to the one before, hashes, signatures); exit 1 naming the
    first bad one."""
    settings = settings_or_exit()
    try:
        public = read_public(public_key) if public_key else signing_key(settings, create=False).public_key()
    except AuditKeyError as error:
        raise click.ClickException(str(error)) from None
    verdict = check(settings.database, public)
    if not verdict.intact:
        raise click.ClickException(verdict.line())
    click.echo(verdict.line())
    click.echo(f"last hash {verdict.last_hash}, key {fingerprint(public)}: keep them elsewhere to tell later that no "
               "newer entry was deleted and no other key signed")


@audit.command()
def key() -> None:
    """Print the public key that verifies the trail (PEM, made with the private key if there is none yet), to keep
    a copy elsewhere for `organism audit verify --public-key`; its fingerprint goes to stderr."""
    try:
        public = signing_key(settings_or_exit()).public_key()
    except AuditKeyError as error:
        raise click.ClickException(str(error)) from None
    click.echo(public_pem(public), nl=False)
    click.echo(f"fingerprint {fingerprint(public)}", err=True)
