"""What the gateway's benchmarks share: percentiles, an empty gateway state, and the fake server's control API."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import requests
from sqlalchemy import delete

from organism import store
from organism.gateway.models import Endpoint, LedgerEntry, Permit, RouteTurn, Waiter


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def clean(url: str) -> None:
    """Forget every endpoint, permit, waiter, route turn and ledger row."""
    with store.session(url) as s:
        for table in (Endpoint, Permit, Waiter, RouteTurn, LedgerEntry):
            s.execute(delete(table))


def fake(server_url: str, path: str, payload: dict[str, Any] | None = None) -> Any:
    """POST ``payload`` to (or with None, GET) the fake server's ``path``: /reset, /control or /stats."""
    address = f"{server_url.removesuffix('/v1')}{path}"
    answer = requests.get(address, timeout=5) if payload is None else requests.post(address, json=payload, timeout=5)
    return answer.json()


def timed_us(action: Callable[[], object], count: int) -> list[float]:
    """Microseconds per ``action()``, ``count`` times, after one warm-up."""
    action()
    samples = []
    for _ in range(count):
        began = time.perf_counter()
        action()
        samples.append((time.perf_counter() - began) * 1e6)
    return samples


def acquire_release(url: str, semaphore: Any) -> None:
    """One uncontended permit: acquired and released, a transaction each."""
    from organism.gateway.semaphore import Lease

    with store.session(url) as s:
        lease = semaphore.acquire(s)
    assert isinstance(lease, Lease)
    with store.session(url) as s:
        semaphore.release(s, lease)
