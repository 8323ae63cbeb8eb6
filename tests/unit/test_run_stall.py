"""What the watchdog takes for a chord that never fired: a finished phase, then one that never started."""

from __future__ import annotations

from organism.store.models import Node, utcnow
from organism.workflows.reconcile import Stall, stalled

PHASES = ("perception", "synthesis", "judgment", "store")


def _nodes(*statuses: tuple[str, ...]) -> list[Node]:
    """One node per status, phase by phase; a node that is not pending has started."""
    return [Node(task_id=f"{phase}-{i}", name=f"{PHASES[phase]}.{i}", phase=phase, phase_name=PHASES[phase],
                 status=status, started_at=None if status == "pending" else utcnow())
            for phase, group in enumerate(statuses) for i, status in enumerate(group)]


def test_scans_done_and_synthesis_never_started_is_a_stall() -> None:
    nodes = _nodes(("succeeded",) * 4, ("pending",), ("pending",) * 2, ("pending",))

    assert stalled(nodes) == Stall("perception", "synthesis")


def test_a_later_phase_that_never_started_is_a_stall_too() -> None:
    nodes = _nodes(("succeeded",) * 4, ("succeeded",), ("succeeded",) * 2, ("pending",))

    assert stalled(nodes) == Stall("judgment", "store")


def test_work_under_way_or_failed_is_not_a_stall() -> None:
    assert stalled(_nodes(("succeeded", "running"), ("pending",))) is None
    assert stalled(_nodes(("succeeded", "failed"), ("pending",))) is None
    assert stalled(_nodes(("succeeded",) * 2, ("running",), ("pending",))) is None
    assert stalled(_nodes(("succeeded",) * 2, ("succeeded",))) is None


def test_a_next_phase_that_started_once_is_not_a_stall() -> None:
    """A node with a recorded start was delivered, so its chord fired, whatever its status says."""
    nodes = _nodes(("succeeded",) * 2, ("pending",))
    nodes[-1].started_at = utcnow()

    assert stalled(nodes) is None
