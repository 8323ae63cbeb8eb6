"""A live view of a run, phase by phase, read from the store (rich)."""

from __future__ import annotations

import time
from collections.abc import Callable

from rich.console import Console, Group
from rich.live import Live
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from organism.store.models import Run
from organism.workflows.queries import find_run, phase_durations

STYLE = {"succeeded": "green", "failed": "bold red", "running": "yellow", "retrying": "magenta",
         "pending": "dim"}
MARK = {"succeeded": "✔", "failed": "✘", "running": "…", "retrying": "↻", "pending": "·"}


def render(run: Run, elapsed_s: float) -> Table:
    table = Table(title=f"{run.key}  [{STYLE.get(run.status, '')}]{run.status}[/]  {elapsed_s:5.1f}s",
                  title_justify="left", show_edge=False)
    table.add_column("phase")
    table.add_column("nodes")
    table.add_column("time", justify="right")
    for phase, status, seconds in phase_durations(run):
        nodes = Text()
        for node in (n for n in run.nodes if n.phase_name == phase):
            if node.degraded:
                nodes.append(f"⚠ {node.name} (without {', '.join(d['dependency'] for d in node.degraded)})  ",
                             style="yellow")
            else:
                nodes.append(f"{MARK[node.status]} {node.name}  ", style=STYLE[node.status])
        table.add_row(Text(phase, style=STYLE[status]), nodes, f"{seconds:.2f}s" if seconds is not None else "")
    return table


def follow(url: str, run_id: str, console: Console, timeout_s: float,
           stalled: Callable[[Run, float], str | None] = lambda run, elapsed: None,
           interval_s: float = 0.1) -> Run:
    """Show the run until it finishes or ``timeout_s`` passes; return its last state.

    ``stalled`` may return a hint (shown under the table) while the run makes no progress.
    """
    began = time.monotonic()
    run = find_run(url, run_id)
    assert run is not None, f"run {run_id} vanished from the store"
    with Live(console=console, refresh_per_second=10, transient=False) as live:
        while True:
            elapsed = time.monotonic() - began
            hint = stalled(run, elapsed)
            parts: list[Table | Text | Spinner] = [render(run, elapsed)]
            if hint:
                parts.append(Text(hint, style="yellow"))
            live.update(Group(*parts))
            if run.status in ("succeeded", "failed") or elapsed > timeout_s:
                return run
            time.sleep(interval_s)
            run = find_run(url, run_id) or run
