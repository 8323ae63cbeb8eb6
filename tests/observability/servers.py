"""Organism's HTTP processes (console, metrics, Flower) started as users start them, and what tests ask of them."""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.support.services import ROOT, wait_for

ORGANISM = str(Path(sys.executable).with_name("organism"))
USER, PASSWORD = "operator", "s3cret-pass"
OPERATOR_ENV = {"ORGANISM_OBSERVABILITY__USERNAME": USER, "ORGANISM_OBSERVABILITY__PASSWORD": PASSWORD}
AUTH = (USER, PASSWORD)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def basic(user: str = USER, password: str = PASSWORD) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return requests.get(self.url + path, timeout=10, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return requests.post(self.url + path, timeout=10, **kwargs)


@contextmanager
def serving(command: str, env: dict[str, str], log: Path, probe: str = "/", timeout_s: float = 40) -> Iterator[Server]:
    """Run ``organism COMMAND --port P`` until the block ends; ready once ``probe`` answers at all."""
    port = free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("ORGANISM_", "FLOWER_"))}
    with log.open("ab") as out:
        process = subprocess.Popen([ORGANISM, command, "--host", "127.0.0.1", "--port", str(port)],
                                   env=clean | env | {"PYTHONPATH": str(ROOT)}, cwd=ROOT, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    server = Server(f"http://127.0.0.1:{port}", process, log)

    def answering() -> bool:
        if process.poll() is not None:
            pytest.fail(f"organism {command} exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            server.get(probe)
        except requests.ConnectionError:
            return False
        return True

    try:
        wait_for(answering, timeout_s, f"organism {command} to answer on port {port}", interval_s=0.2)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait()
