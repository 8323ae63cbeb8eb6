"""Evolution (P3): keeping what a run learned, so later runs can build on it."""

from __future__ import annotations

from typing import Any

from organism.failures.degrade import optional
from organism.memory import recall
from organism.settings import get_settings
from organism.skill import skill
from organism.workflows import reports

MEMORY_THEMES = 5


def _remember(run_id: str, synthesis: dict[str, Any]) -> dict[str, list[str]]:
    """Which of today's leading themes earlier reports mentioned too (memory is optional)."""
    url = get_settings().memory
    themes = [i["keywords"][0] for i in synthesis.get("insights", [])[:MEMORY_THEMES] if i.get("keywords")]
    return {theme: [r.key for r in recall(url, theme, exclude_run=run_id)] for theme in themes}


def _summary(key: str, window: dict[str, str], scans: dict[str, Any], evaluations: list[dict[str, Any]]) -> str:
    first: dict[str, Any] = next(iter(scans.values()), {})
    lines = [f"Daily Sync {key.partition(':')[2]}: posts from {window['start']} to {window['end']}"]
    left_out = [f"{first[k]} {label}" for k, label in (("undated", "without a date"), ("outside", "outside it"))
                if first.get(k)]
    if left_out:
        lines[0] += f" ({', '.join(left_out)}, not scanned)"
    for quadrant, scan in sorted(scans.items()):
        lines.append(f"{quadrant}: {scan.get('items_scanned', 0)} items; {_gist(scan)}")
    for evaluation in evaluations:
        best = evaluation.get("ranking", [])[:1]
        if best:
            lines.append(f"{evaluation['evaluation']}: {best[0]['title']} ({best[0]['score']:.0f}/100)")
    return "\n".join(lines)


def _gist(scan: dict[str, Any]) -> str:
    """A scan in a few words: its polarity shares (q2), then its top themes, or why it has none."""
    parts = [", ".join(f"{share:.0%} {label}" for label, share in (scan.get("polarity") or {}).items() if share)]
    top = ", ".join(str(f["theme"]) for f in scan.get("findings", [])[:3])
    parts.append(f"top: {top}" if top else str(scan.get("note") or "nothing found"))
    return "; ".join(part for part in parts if part)


@skill(organ="evolution", effect="idempotent", optional=["memory"])
def report_keeper(judged: list[dict[str, Any]], run_id: str, key: str, window: dict[str, str]) -> dict[str, Any]:
    """Store the run's report: every quadrant's findings, the synthesis, the rankings, and what memory recalls.

    ``judged`` is what the canvas hands over: the evaluations, then the synthesis, which carries the scans.
    """
    *evaluations, synthesis = judged
    scans = {scan["quadrant"]: scan for scan in synthesis.get("scans", [])}
    history: dict[str, list[str]] | None = None
    with optional("memory"):
        history = _remember(run_id, synthesis)
    body = {"key": key, "window": window, "scans": scans,
            "synthesis": {k: v for k, v in synthesis.items() if k != "scans"}, "evaluations": evaluations,
            "history": history}
    summary = _summary(key, window, scans, evaluations)
    if history is None:
        summary += "\nmemory: unavailable, so no comparison with earlier reports"
    else:
        seen = [f"{theme} ({', '.join(keys)})" for theme, keys in history.items() if keys]
        summary += "\nmemory: " + ("; ".join(seen) if seen else "none of today's leading themes was seen before")
    reports.keep(run_id, summary, body)
    return {"run_id": run_id, "stored_in": "organism_reports", "summary": summary}
