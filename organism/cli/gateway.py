"""The gateway's commands, attached to ``organism``: ``ledger`` and ``fake-model``."""

from __future__ import annotations

from datetime import date, datetime

import click
from rich.console import Console
from rich.table import Table

from organism.cli.context import services_or_exit, settings_or_exit
from organism.gateway.fakeserver import Behaviour, FakeModelServer
from organism.gateway.ledger import GROUPS, day_start, ledger_totals


@click.command("ledger")
@click.option("--today", is_flag=True, help="Only today's calls (in ORGANISM_TIMEZONE).")
@click.option("--since", "since_day", type=click.DateTime(["%Y-%m-%d"]), help="Only calls from this date on.")
@click.option("--by", type=click.Choice(sorted(GROUPS)), default="model", show_default=True,
              help="What to total by.")
@services_or_exit
def ledger(today: bool, since_day: datetime | None, by: str) -> None:
    """Model calls, tokens and cost from the token ledger, in USD and CNY.

    \b
    Example:
      organism ledger --today --by skill
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
    for column in ("calls", "prompt", "completion", "USD", "CNY"):
        table.add_column(column, justify="right")
    for total in totals:
        table.add_row(total.key or "-", str(total.calls), f"{total.prompt_tokens:,}", f"{total.completion_tokens:,}",
                      f"{total.cost_usd:.4f}", f"{total.cost_usd * rate:.4f}")
    cost = sum(t.cost_usd for t in totals)
    table.add_section()
    table.add_row("total", str(sum(t.calls for t in totals)), f"{sum(t.prompt_tokens for t in totals):,}",
                  f"{sum(t.completion_tokens for t in totals):,}", f"{cost:.4f}", f"{cost * rate:.4f}")
    Console().print(table)


@click.command("fake-model")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8900, show_default=True, envvar="ORGANISM_FAKE_MODEL_PORT",
              help="0 picks a free port.")
@click.option("--latency-ms", type=float, default=0, show_default=True, help="Time to answer each request.")
@click.option("--fail-rate", type=click.FloatRange(0, 1), default=0, show_default=True, help="Share of HTTP 500s.")
@click.option("--timeout-rate", type=click.FloatRange(0, 1), default=0, show_default=True,
              help="Share of requests left unanswered for --hang-s.")
@click.option("--malformed-rate", type=click.FloatRange(0, 1), default=0, show_default=True,
              help="Share of replies that are not valid JSON.")
@click.option("--rate-limit", type=click.IntRange(1), help="Requests per minute, then 429 with Retry-After.")
@click.option("--hang-s", type=float, default=60, show_default=True)
@click.option("--api-key", envvar="ORGANISM_FAKE_MODEL_API_KEY", help="Require this bearer token.")
def fake_model(host: str, port: int, latency_ms: float, fail_rate: float, timeout_rate: float,
               malformed_rate: float, rate_limit: int | None, hang_s: float, api_key: str | None) -> None:
    """Run a local OpenAI-compatible model server, to try the gateway without a provider.

    It answers JSON-schema requests with made-up valid JSON, so the Daily Sync's model path runs against it;
    GET /stats shows what it saw.

    \b
    Example:
      organism fake-model --port 8900 --latency-ms 300 --fail-rate 0.05 &
      ORGANISM_GATEWAY__BASE_URL=http://127.0.0.1:8900/v1 ORGANISM_GATEWAY__MODEL=fake-model \\
        organism sync --wait --local-workers
    """
    behaviour = Behaviour(latency_ms=latency_ms, fail_rate=fail_rate, timeout_rate=timeout_rate,
                          malformed_rate=malformed_rate, rate_limit=rate_limit, hang_s=hang_s, api_key=api_key)
    try:
        server = FakeModelServer(host, port, behaviour)
    except OSError as error:
        raise click.ClickException(f"cannot listen on {host}:{port}: {error}; try another --port") from None
    click.echo(f"fake model listening on {server.url} (stats at {server.url.removesuffix('/v1')}/stats)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()

