"""An organ's queue held: its worker stopped while calls pile up, then a worker of the test's own making serves it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from organism.local import LocalWorkers
from tests.conftest import Cluster, make_settings

Serve = Callable[..., LocalWorkers]


@contextmanager
def organ_held(cluster: Cluster, organ: str) -> Iterator[Serve]:
    """While the block runs, no worker consumes ``organ``'s queue, so what is sent there waits. ``serve(**worker)``
    gives a worker of the organ, started on entering a ``with`` block and stopped after it, with those worker
    settings (``serve(concurrency=1, prefetch=1)``: ``[workers.<organ>]``). After the block the organ's queues are
    purged and the cluster's own worker started again."""
    cluster.workers.stop(organs=[organ])

    def serve(**worker: object) -> LocalWorkers:
        extra = {f"ORGANISM_WORKERS__{organ.upper()}__{name.upper()}": str(value) for name, value in worker.items()}
        return LocalWorkers(make_settings(cluster.env | extra), env=cluster.workers.env | extra,
                            log_dir=cluster.workers.log_dir, organs=[organ])

    try:
        yield serve
    finally:
        cluster.app.control.purge()
        cluster.workers.start(organ)
