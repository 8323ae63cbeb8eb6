"""Metrics the SQL store already holds, read at scrape time: dead letters, model tokens and cost, runs.

Reading them when scraped, rather than counting in workers, makes them exact and cluster-wide: every host's
workers write to the same store, and nothing is lost when a process restarts. They are counters as long as rows
are only added (purging a dead letter keeps its row); deleting rows by hand shows as a counter reset.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from organism.gateway.ledger import day_start, spent_usd
from organism.gateway.models import LedgerEntry, LedgerStatus
from organism.observability.instruments import OTHER
from organism.store import session
from organism.store.models import OPEN_RUNS, DeadLetter, DeadLetterStatus, Run, RunStatus, utcnow
from organism.workflows.queries import phase_durations

RUN_BUCKETS_S = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)


def _bounded(value: str | None, known: Iterable[str]) -> str:
    return value if value is not None and value in known else OTHER


def dead_letter_metrics(url: str, skills: frozenset[str], organs: Sequence[str]) -> Iterator[Metric]:
    """Dead letters ever written and those still waiting for a decision, by skill (unknown names: ``other``)."""
    total = CounterMetricFamily("organism_dead_letters", "Dead letters written, by skill, organ and reason.",
                                labels=["skill", "organ", "reason"])
    waiting = GaugeMetricFamily("organism_dead_letters_waiting", "Dead letters neither replayed nor purged.",
                                labels=["skill"])
    counts: dict[tuple[str, str, str], int] = defaultdict(int)
    dead: dict[str, int] = defaultdict(int)
    with session(url) as s:
        rows = s.execute(select(DeadLetter.task_name, DeadLetter.organ, DeadLetter.reason, DeadLetter.status,
                                func.count()).group_by(DeadLetter.task_name, DeadLetter.organ, DeadLetter.reason,
                                                       DeadLetter.status))
        for name, organ, reason, status, count in rows:
            skill = _bounded(name, skills)
            counts[skill, _bounded(organ, organs), reason] += count
            if status == DeadLetterStatus.DEAD.value:
                dead[skill] += count
    for labels, count in sorted(counts.items()):
        total.add_metric(list(labels), count)
    for skill, count in sorted(dead.items()):
        waiting.add_metric([skill], count)
    yield total
    yield waiting


def ledger_metrics(url: str, zone: ZoneInfo, daily_budget_usd: float | None) -> Iterator[Metric]:
    """Model calls, tokens and cost by model and skill, from the gateway's ledger; today's cost, the day as the
    daily budget counts it (in ``zone``), and that budget, if one is set.

    The gateway's ``ledger_totals`` groups by one column; Prometheus wants model and skill together, so this
    groups the ledger table by both.
    """
    calls = CounterMetricFamily("organism_model_calls", "Answered model calls.", labels=["model", "skill"])
    tokens = CounterMetricFamily("organism_model_tokens", "Tokens billed, by kind (prompt, completion).",
                                 labels=["model", "skill", "kind"])
    cost = CounterMetricFamily("organism_model_cost_usd", "Cost at the prices in force when each call was made.",
                               labels=["model", "skill"])
    today = GaugeMetricFamily("organism_model_cost_usd_today", "Cost of today's calls, the day starting at "
                              "midnight in ORGANISM_TIMEZONE, as the daily budget counts it.")
    with session(url) as s:
        rows = list(s.execute(select(LedgerEntry.model, LedgerEntry.skill, func.count(),
                                     func.sum(LedgerEntry.prompt_tokens), func.sum(LedgerEntry.completion_tokens),
                                     func.sum(LedgerEntry.cost_usd))
                              .where(LedgerEntry.status == LedgerStatus.ANSWERED.value)
                              .group_by(LedgerEntry.model, LedgerEntry.skill)
                              .order_by(LedgerEntry.model, LedgerEntry.skill)))
        today.add_metric([], spent_usd(s, since=day_start(datetime.now(zone).date(), zone)))
    for model, skill, count, prompt, completion, usd in rows:
        labels = [model or OTHER, skill or OTHER]
        calls.add_metric(labels, count)
        tokens.add_metric([*labels, "prompt"], int(prompt or 0))
        tokens.add_metric([*labels, "completion"], int(completion or 0))
        cost.add_metric(labels, float(usd or 0.0))
    yield from (calls, tokens, cost, today)
    if daily_budget_usd is not None:
        yield GaugeMetricFamily("organism_gateway_daily_budget_usd", "Today's spend past which model calls are "
                                "refused (ORGANISM_GATEWAY__DAILY_BUDGET_USD).", value=daily_budget_usd)


def histogram(name: str, documentation: str, labels: list[str],
              samples: dict[tuple[str, ...], list[float]], buckets: Sequence[float]) -> HistogramMetricFamily:
    """A histogram family from raw observations grouped by label values."""
    family = HistogramMetricFamily(name, documentation, labels=labels)
    for values, observed in sorted(samples.items()):
        cumulative = [(str(bound), float(sum(1 for x in observed if x <= bound))) for bound in buckets]
        family.add_metric(list(values), [*cumulative, ("+Inf", float(len(observed)))], sum_value=sum(observed))
    return family


def run_metrics(url: str, workflows: Iterable[str]) -> Iterator[Metric]:
    """Runs by workflow and status; finished runs' durations, whole and per phase, by outcome; when each
    workflow's latest run of each outcome finished; open runs past their deadline (0 for each of ``workflows``)."""
    by_status = GaugeMetricFamily("organism_runs", "Runs in the store, by workflow and status.",
                                  labels=["workflow", "status"])
    latest = GaugeMetricFamily("organism_run_last_finished_timestamp_seconds", "When the latest run of the "
                               "workflow that ended with this outcome finished (Unix time).",
                               labels=["workflow", "outcome"])
    overdue = GaugeMetricFamily("organism_runs_overdue", "Runs still open past their deadline: the watchdog (in "
                                "beat) fails them, so one that stays open means it is not running.",
                                labels=["workflow"])
    totals: dict[tuple[str, ...], list[float]] = defaultdict(list)
    phases: dict[tuple[str, ...], list[float]] = defaultdict(list)
    finished = (RunStatus.SUCCEEDED.value, RunStatus.FAILED.value)
    with session(url) as s:
        for workflow, status, count in s.execute(select(Run.workflow, Run.status, func.count())
                                                 .group_by(Run.workflow, Run.status)
                                                 .order_by(Run.workflow, Run.status)):
            by_status.add_metric([workflow, status], count)
        for workflow, status, at in s.execute(select(Run.workflow, Run.status, func.max(Run.finished_at))
                                              .where(Run.status.in_(finished))
                                              .group_by(Run.workflow, Run.status)
                                              .order_by(Run.workflow, Run.status)):
            if at is not None:  # SQLite gives back the store's UTC without its zone
                latest.add_metric([workflow, status], (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp())
        late = dict.fromkeys(workflows, 0) | {workflow: count for workflow, count in s.execute(
            select(Run.workflow, func.count()).where(Run.status.in_(OPEN_RUNS), Run.deadline_at < utcnow())
            .group_by(Run.workflow))}
        for run in s.scalars(select(Run).options(selectinload(Run.nodes)).where(Run.status.in_(finished))):
            if run.finished_at is not None:
                totals[run.workflow, run.status].append((run.finished_at - run.created_at).total_seconds())
            for phase, status, seconds in phase_durations(run):
                if seconds is not None:
                    phases[run.workflow, phase, status].append(seconds)
    for workflow, count in sorted(late.items()):
        overdue.add_metric([workflow], count)
    yield from (by_status, latest, overdue)
    yield histogram("organism_run_duration_seconds", "Finished runs, from start to finish, by outcome.",
                    ["workflow", "outcome"], totals, RUN_BUCKETS_S)
    yield histogram("organism_run_phase_duration_seconds", "Phases of finished runs, from their first node's "
                    "start to their last node's finish, by outcome.", ["workflow", "phase", "outcome"], phases,
                    RUN_BUCKETS_S)
