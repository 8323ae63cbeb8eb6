"""Evolution (P3): keeping what a run learned, so later runs can build on it."""

from __future__ import annotations

from typing import Any

from celery import current_app

from organism.failures.degrade import optional
from organism.memory import recall
from organism.settings import get_settings
from organism.skill import skill
from organism.workflows.runs import find_run, node_results, save_report

MEMORY_THEMES = 5


def _remember(run_id: str, synthesis: dict[str, Any] | None) -> dict[str, list[str]]:
    """Which of today's leading themes earlier reports mentioned too (memory is optional)."""
    url = get_settings().memory
    themes = [i["keywords"][0] for i in (synthesis or {}).get("insights", [])[:MEMORY_THEMES] if i.get("keywords")]
    return {theme: [r.key for r in recall(url, theme, exclude_run=run_id)] for theme in themes}


def _summary(day: str, scans: dict[str, Any], evaluations: list[dict[str, Any]]) -> str:
    lines = [f"Daily Sync {day}"]
    for quadrant, scan in sorted(scans.items()):
        top = ", ".join(str(f["theme"]) for f in scan.get("findings", [])[:3]) or "nothing"
        lines.append(f"{quadrant}: {scan.get('items_scanned', 0)} items; top: {top}")
    for evaluation in evaluations:
        best = evaluation.get("ranking", [])[:1]
        if best:
            lines.append(f"{evaluation['evaluation']}: {best[0]['title']} ({best[0]['score']:.0f}/100)")
    return "\n".join(lines)


@skill(organ="evolution", effect="idempotent", optional=["memory"])
def report_keeper(evaluations: list[dict[str, Any]], run_id: str) -> dict[str, Any]:
    """Store the run's report: every quadrant's findings, the synthesis, the rankings, and what memory recalls."""
    url = get_settings().database
    run = find_run(url, run_id)
    if run is None:
        raise LookupError(f"run {run_id} is not in the store at {url}")
    results = node_results(current_app, run)
    scans = {name.split(".")[0]: results[name] for name in results if name.startswith("q")}
    history: dict[str, list[str]] | None = None
    with optional("memory"):
        history = _remember(run_id, results.get("synthesis"))
    body = {"key": run.key, "scans": scans, "synthesis": results.get("synthesis"), "evaluations": evaluations,
            "history": history}
    summary = _summary(run.params.get("day", ""), scans, evaluations)
    if history is None:
        summary += "\nmemory: unavailable, so no comparison with earlier reports"
    else:
        seen = [f"{theme} ({', '.join(keys)})" for theme, keys in history.items() if keys]
        summary += "\nmemory: " + ("; ".join(seen) if seen else "none of today's leading themes was seen before")
    save_report(url, run_id, summary, body)
    return {"run_id": run_id, "stored_in": "organism_reports", "summary": summary}
