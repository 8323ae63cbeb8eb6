"""A process that publishes a run and does not wait for its tasks keeps no subscription to their results (Redis).

Celery's Redis backend subscribes the publisher to each task's result channel, and a chord's header holds its
results in the backend until they arrive, which they never do in a process that does not read them; they were
let go only at interpreter shutdown, and ``organism sync --wait`` and ``runs resume`` ended with ``Exception
ignored in AsyncResult.__del__ ... ImportError``. The Redis server says who is subscribed to what.
"""

from __future__ import annotations

from datetime import date

import pytest
import redis

from organism.workflows.queries import find_run
from organism.workflows.start import resume, start
from tests.conftest import Cluster, Clusters
from tests.integration.test_cli import organism
from tests.support.noop import FAIL_SYNC, GATE
from tests.support.services import finished_run

pytestmark = pytest.mark.integration


@pytest.fixture
def on_redis(clusters: Clusters) -> Cluster:
    chosen = clusters["redis"]
    chosen.clean()
    return chosen


def subscribed(cluster: Cluster, run_id: str) -> dict[str, int]:
    """The result channels of the run's current tasks that some client subscribes to, with how many do."""
    run = find_run(cluster.settings.database, run_id)
    assert run is not None
    backend = cluster.app.backend
    channels = [backend.get_key_for_task(node.task_id).decode() for node in run.nodes]
    found = redis.Redis.from_url(cluster.settings.results).pubsub_numsub(*channels)
    return {channel.decode(): count for channel, count in found if count}


def test_starting_and_resuming_a_run_leaves_no_subscription_to_its_results(on_redis: Cluster) -> None:
    gate = redis.Redis.from_url(GATE)
    gate.delete("gate")

    started = start(on_redis.app, FAIL_SYNC, {"date": date(2026, 4, 1)})
    assert subscribed(on_redis, started.run_id) == {}
    assert finished_run(on_redis.settings.database, started.run_id).status == "failed"
    gate.set("gate", "open")
    resume(on_redis.app, started.run_id)
    assert subscribed(on_redis, started.run_id) == {}

    assert finished_run(on_redis.settings.database, started.run_id).status == "succeeded"


def test_sync_wait_and_runs_resume_wait_end_cleanly_on_redis_results(on_redis: Cluster) -> None:
    gate = redis.Redis.from_url(GATE)
    gate.delete("gate")

    synced = organism("sync", "--wait", "--date", "2026-11-23", env=on_redis.env, timeout_s=180)
    failed = organism("run", FAIL_SYNC, "--param", "date=2026-04-02", "--wait", env=on_redis.env, timeout_s=120)
    gate.set("gate", "open")
    resumed = organism("runs", "resume", f"{FAIL_SYNC}:2026-04-02", "--wait", env=on_redis.env, timeout_s=120)

    assert [synced.returncode, failed.returncode, resumed.returncode] == [0, 1, 0], \
        synced.stderr + failed.stderr + resumed.stderr
    assert "gate closed" in failed.stdout and "report stored" in resumed.stdout
    for done in (synced, failed, resumed):
        assert "Exception ignored" not in done.stderr and "Traceback" not in done.stderr, done.stderr
