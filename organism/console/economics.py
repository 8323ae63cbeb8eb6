"""Token economics: today and the last 7 days by skill, model, organ, route and endpoint, in USD and CNY, a daily
chart, what is left of today's budget, and the calls policies refused. Every figure comes from the gateway's
ledger (``ledger_totals``, ``refusals``), so it is the same one ``organism ledger`` prints.

Days are counted in the zone the operator chose (the configured one unless they picked another); the budget's day
is always the configured zone's, as the gateway counts it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import Blueprint, render_template

from organism.console import zones
from organism.console.charts import HEIGHT, bars
from organism.console.context import organism
from organism.gateway.ledger import Total, day_start, ledger_totals, refusals

economics = Blueprint("economics", __name__)
GROUPS = ("skill", "model", "organ", "route", "endpoint")
REFUSALS_SHOWN = 50
DAYS = 7


def _sum(totals: list[Total]) -> Total:
    return Total("total", sum(t.calls for t in totals), sum(t.prompt_tokens for t in totals),
                 sum(t.completion_tokens for t in totals), sum(t.cost_usd for t in totals))


@economics.get("/tokens")
def index() -> str:
    settings = organism().settings
    url, zone = settings.database, zones.chosen()
    today = datetime.now(zone).date()
    days = [today - timedelta(days=back) for back in range(DAYS - 1, -1, -1)]
    windows = {"today": day_start(today, zone), f"last {DAYS} days": day_start(days[0], zone)}
    tables = {window: {by: ledger_totals(url, since, by) for by in GROUPS} for window, since in windows.items()}
    totals = {window: _sum(groups["model"]) for window, groups in tables.items()}
    # A day's cost is what was spent since its midnight minus what was spent since the next one.
    spent_since = [_sum(ledger_totals(url, day_start(day, zone))).cost_usd for day in days] + [0.0]
    daily = [(f"{day:%m-%d}", spent_since[i] - spent_since[i + 1]) for i, day in enumerate(days)]
    budget = settings.gateway.daily_budget_usd
    budget_day = day_start(datetime.now(settings.zone).date(), settings.zone)
    left = None if budget is None else max(0.0, budget - _sum(ledger_totals(url, budget_day)).cost_usd)
    return render_template("economics.html", tables=tables, totals=totals, rate=settings.gateway.cny_per_usd,
                           chart=bars(daily), chart_height=HEIGHT, budget=budget, left=left, zone=zone.key,
                           budget_zone=settings.timezone, days=DAYS,
                           refused=refusals(url, day_start(days[0], zone), REFUSALS_SHOWN))
