"""Worker liveness from heartbeat files (no broker involved) and readiness, as probes run them."""

from __future__ import annotations

import json
import socket
import time

import pytest

from tests.conftest import Cluster
from tests.integration.test_cli import organism
from tests.support.services import wait_for

pytestmark = pytest.mark.integration


def test_every_worker_beats_and_a_silent_one_is_reported_dead(production: Cluster) -> None:
    folder = production.settings.observability.health_path(production.settings.data_dir)
    wait_for(lambda: len(list(folder.glob("*@*.json"))) == 4, 20, "a heartbeat from each of the four workers")

    alive = organism("health", "worker", env=production.env)
    assert alive.returncode == 0, alive.stdout + alive.stderr
    assert sorted(line.split()[1].split("@")[0] for line in alive.stdout.splitlines()) == [
        "evolution", "judgment", "perception", "relationship"]

    probe = organism("health", "worker", "--node", f"perception@{socket.gethostname()}", env=production.env)
    assert probe.returncode == 0, "docker-compose.yml's probe (--node <organ>@$HOSTNAME) finds no such worker"

    ghost = folder / "ghost@nowhere.json"
    ghost.write_text(json.dumps({"node": "ghost@nowhere", "pid": 1, "queues": ["perception"], "at": time.time() - 600}))
    try:
        dead = organism("health", "worker", "--node", "ghost@nowhere", env=production.env)
        assert dead.returncode == 1 and dead.stdout.startswith("DEAD  ghost@nowhere")
    finally:
        ghost.unlink()
    missing = organism("health", "worker", "--node", "nobody@nowhere", env=production.env)
    assert missing.returncode == 1 and "no heartbeat of nobody@nowhere" in missing.stderr


def test_ready_checks_broker_and_store(production: Cluster) -> None:
    done = organism("health", "ready", env=production.env)

    assert done.returncode == 0, done.stdout
    assert [line.split()[:2] for line in done.stdout.splitlines()] == [["ok", "broker"], ["ok", "store"]]
