"""Budget guard: past today's (or this run's) budget, model calls are refused before they reach the provider.

Spend is read from the ledger, so every process sees the same figure. The check comes before the call, so
calls already in flight can overshoot a budget by at most the cost of the calls that hold permits.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from organism.errors import PermanentError
from organism.gateway.ledger import day_start, spent_usd


class BudgetExhausted(PermanentError):
    """A model call was refused because a budget is spent; ``status`` is a stable word for runs and reports."""

    status = "budget_exhausted"


class Budget:
    """The daily and per-run budgets (US dollars; ``None`` means unlimited) over the ledger."""

    def __init__(self, daily_usd: float | None, run_usd: float | None, zone: ZoneInfo) -> None:
        self.daily_usd = daily_usd
        self.run_usd = run_usd
        self.zone = zone

    def check(self, s: Session, run_id: str | None) -> None:
        """Raises :class:`BudgetExhausted` if today's spend or the run's has reached its budget."""
        if self.daily_usd is not None:
            today = datetime.now(self.zone).date()
            spent = spent_usd(s, since=day_start(today, self.zone))
            if spent >= self.daily_usd:
                raise BudgetExhausted(
                    f"daily model budget reached: {spent:.4f} of {self.daily_usd:.4f} USD spent on {today} "
                    f"({self.zone.key}); model calls are refused until midnight there, or raise "
                    "ORGANISM_GATEWAY__DAILY_BUDGET_USD")
        if self.run_usd is not None and run_id is not None:
            spent = spent_usd(s, run_id=run_id)
            if spent >= self.run_usd:
                raise BudgetExhausted(
                    f"run model budget reached: {spent:.4f} of {self.run_usd:.4f} USD spent by run {run_id}; "
                    "its model calls are refused (ORGANISM_GATEWAY__RUN_BUDGET_USD)")
