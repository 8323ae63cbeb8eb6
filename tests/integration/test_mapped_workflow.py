"""A workflow that maps a skill over 200 items, in chunks of 50, on real workers of each profile: every item's
result arrives, in order, and a chunk that fails for good fails the run alone (tests/support/mapped.py)."""

from __future__ import annotations

import re
import uuid

import pytest

from organism.store.models import Node, Run
from organism.workflows.queries import find_run
from organism.workflows.start import start
from tests.conftest import Cluster
from tests.support.mapped import MAP_SQUARES
from tests.support.services import finished_run, wait_for

pytestmark = pytest.mark.integration


def chunks(nodes: list[Node]) -> list[Node]:
    """The run's chunk nodes in the items' order (``square[50:100]`` after ``square[0:50]``)."""
    found = [n for n in nodes if n.name.startswith("square[")]
    return sorted(found, key=lambda n: int(re.findall(r"\d+", n.name)[0]))


def settled(url: str, run_id: str) -> Run | None:
    """The run once each of its chunks has succeeded or failed."""
    run = find_run(url, run_id)
    return run if run is not None and all(n.status in ("succeeded", "failed") for n in chunks(run.nodes)) else None


def test_a_map_over_200_items_finishes_with_every_items_result_in_order(cluster: Cluster) -> None:
    started = start(cluster.app, MAP_SQUARES, {"count": 200, "chunk_size": 50, "tag": uuid.uuid4().hex})

    run = finished_run(cluster.settings.database, started.run_id, timeout_s=120)

    assert run.status == "succeeded", run.error
    mapped = chunks(run.nodes)
    assert [n.name for n in mapped] == ["square[0:50]", "square[50:100]", "square[100:150]", "square[150:200]"]
    assert [r for n in mapped for r in (n.result or {})["results"]] == [n * n for n in range(200)]
    (summed,) = [n for n in run.nodes if n.name == "total"]
    assert summed.result == {"count": 200, "sum": sum(n * n for n in range(200)),
                             "results": [n * n for n in range(200)]}


def test_an_item_that_fails_for_good_fails_its_chunk_and_the_run_and_the_other_chunks_keep_their_results(
        cluster: Cluster) -> None:
    started = start(cluster.app, MAP_SQUARES, {"count": 200, "chunk_size": 50, "tag": uuid.uuid4().hex,
                                               "refuse": [57]})

    failed = finished_run(cluster.settings.database, started.run_id, timeout_s=120)
    # The run fails as its first chunk fails; the other chunks go on.
    run = wait_for(lambda: settled(cluster.settings.database, started.run_id), 60, "every chunk to finish")
    assert run is not None

    assert failed.status == run.status == "failed"
    assert run.error is not None and "square[50:100]" in run.error and "57 is refused" in run.error
    assert [(n.name, n.status) for n in chunks(run.nodes)] == [
        ("square[0:50]", "succeeded"), ("square[50:100]", "failed"), ("square[100:150]", "succeeded"),
        ("square[150:200]", "succeeded")]
    assert (chunks(run.nodes)[2].result or {})["results"] == [n * n for n in range(100, 150)]
    assert [n.status for n in run.nodes if n.name == "total"] == ["pending"]
