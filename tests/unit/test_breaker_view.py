"""The Cluster page's words for a circuit: the state a caller meets now, not only the one stored."""

from __future__ import annotations

import pytest

from organism.observability.gateway_state import EndpointView


def view(breaker: str, failures: int = 0, open_for_s: float | None = None,
         probe_for_s: float | None = None) -> EndpointView:
    return EndpointView("http://model/v1", breaker, failures, 5, open_for_s, probe_for_s, None, None, 3, 0, 0, 0.0)


@pytest.mark.parametrize(("endpoint", "state", "tone"), [
    (view("closed"), "closed", "closed"),
    (view("closed", failures=4), "closed, failing (4 in a row)", "half_open"),
    (view("open", failures=5, open_for_s=12.0), "open", "open"),
    (view("open", failures=5), "open, cooldown over: the next call probes", "open"),
    (view("half_open", failures=5, probe_for_s=30.0), "half-open: a probe is out", "half_open"),
    (view("half_open", failures=5), "half-open, probe lost: the next call probes", "half_open"),
])
def test_a_circuit_is_shown_as_a_caller_meets_it(endpoint: EndpointView, state: str, tone: str) -> None:
    assert (endpoint.state, endpoint.tone) == (state, tone)
