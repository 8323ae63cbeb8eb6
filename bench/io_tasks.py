"""I/O-bound work for ``bench.io_bound``: a wait and an HTTP call, as Organism skills and as raw Celery tasks
(``bench.dramatiq_io`` makes the same functions Dramatiq actors).

The skills are the judgment organ's, which the benchmark declares I/O-bound (``bound = "io"``: a threads pool).
The HTTP call asks a local server that answers after a fixed delay (``devtools.fake_model --latency-ms``: a chat
completion, straight to the server, not through the gateway and its semaphore). Each worker thread keeps its own
``requests.Session`` (a session is not safe to share between threads), so connections are reused as a real
client's would be.
"""

from __future__ import annotations

import threading
import time

import requests
from celery import shared_task

from organism.failures.thread_limits import remaining_s
from organism.skill import skill

ORGAN = "judgment"
WAIT, HTTP = "bench.io_wait", "bench.io_http"
RAW_WAIT, RAW_HTTP = "bench.raw_io_wait", "bench.raw_io_http"
TIMEOUT_S = 30  # the raw tasks' HTTP timeout (a skill's is what is left of its soft time limit)
_local = threading.local()


def wait(seconds: float) -> float:
    """Wait ``seconds`` as a blocking call does (the published comparison's task)."""
    time.sleep(seconds)
    return seconds


def ask(base_url: str, timeout_s: float | None = TIMEOUT_S) -> int:
    """Ask the model server at ``base_url`` for a completion; the size of its answer."""
    session = getattr(_local, "session", None)
    if session is None:
        session = _local.session = requests.Session()
    response = session.post(f"{base_url}/chat/completions", timeout=timeout_s,
                            json={"model": "fake-model", "messages": [{"role": "user", "content": "hello"}]})
    response.raise_for_status()
    return len(response.content)


@skill(organ=ORGAN, name=WAIT, effect="read-only")
def io_wait(seconds: float) -> float:
    return wait(seconds)


@skill(organ=ORGAN, name=HTTP, effect="read-only")
def io_http(base_url: str) -> int:
    return ask(base_url, remaining_s())


@shared_task(name=RAW_WAIT)
def raw_io_wait(seconds: float) -> float:
    return wait(seconds)


@shared_task(name=RAW_HTTP)
def raw_io_http(base_url: str) -> int:
    return ask(base_url)
