"""The gateway's command, attached to ``organism``: ``ledger`` (the fake model server is in devtools)."""

from __future__ import annotations

from datetime import date, datetime

import click
from rich.console import Console
from rich.table import Table

from organism.cli.context import services_or_exit, settings_or_exit
from organism.gateway.ledger import GROUPS, day_start, ledger_totals


@click.command("ledger")
@click.option("--today", is_flag=True, help="Only today's calls (in ORGANISM_TIMEZONE).")
@click.option("--since", "since_day", type=click.DateTime(["%Y-%m-%d"]), help="Only calls from this date on.")
@click.option("--by", type=click.Choice(sorted(GROUPS)), default="model", show_default=True,
              help="What to total by.")
@services_or_exit
def ledger(today: bool, since_day: datetime | None, by: str) -> None:
    """Model calls, tokens and cost from the token ledger, in USD and CNY, and the calls policies refused.

    \b
    Example:
      organism ledger --today --by skill
      organism ledger --by endpoint
    """
    settings = settings_or_exit()
    if today and since_day:
        raise click.ClickException("give --today or --since, not both")
    day: date | None = datetime.now(settings.zone).date() if today else since_day.date() if since_day else None
    since = day_start(day, settings.zone) if day else None
    totals = ledger_totals(settings.database, since, by)
    rate = settings.gateway.cny_per_usd
    scope = f"since {day} ({settings.timezone})" if day else "all time"
    table = Table(title=f"model calls and tokens {scope}, by {by}; CNY at {rate:g} per USD")
    table.add_column(by, overflow="fold")
    for column in ("calls", "prompt", "completion", "USD", "CNY", "refused"):
        table.add_column(column, justify="right")
    for total in totals:
        table.add_row(total.key or "-", str(total.calls), f"{total.prompt_tokens:,}", f"{total.completion_tokens:,}",
                      f"{total.cost_usd:.4f}", f"{total.cost_usd * rate:.4f}", str(total.refused))
    cost = sum(t.cost_usd for t in totals)
    table.add_section()
    table.add_row("total", str(sum(t.calls for t in totals)), f"{sum(t.prompt_tokens for t in totals):,}",
                  f"{sum(t.completion_tokens for t in totals):,}", f"{cost:.4f}", f"{cost * rate:.4f}",
                  str(sum(t.refused for t in totals)))
    Console().print(table)
