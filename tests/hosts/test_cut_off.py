"""One of three hosts cut off from the network in the middle of a burst of 2,000 calls: no call is lost, the calls
it held go to the other hosts, and no effect is applied twice.

The host is cut for real: both ends of its bridges die, so every connection it had drops and it can open no new
one, while its workers keep running, unreachable (tests/support/hosts.py). RabbitMQ sees the host's connections
close and hands the messages it had not acknowledged (the calls it was running and those it had taken ahead) to the
other hosts' workers, which see them as redelivered. A call the cut host had finished but not yet acknowledged runs
a second time; its effect is keyed by the call, so the second run changes nothing: the test counts those double
executions apart from the effects.
"""

from __future__ import annotations

from collections import Counter

import pytest
from celery.result import ResultSet
from sqlalchemy import func, select

from organism import store
from tests.hosts import workload
from tests.hosts.conftest import DATABASE_URL, HOSTS, Cluster
from tests.support.hosts import SERVICE_PORTS
from tests.support.services import wait_for

pytestmark = pytest.mark.integration

BURST = 2000
CUT = "h3"


def test_a_host_cut_off_mid_burst_loses_no_call_and_applies_no_effect_twice(hosts: Cluster) -> None:
    url, host = DATABASE_URL, hosts.host(CUT)
    calls = workload.burst(BURST)

    def a_quarter_done() -> bool:
        done = workload.by_host(url)
        return sum(done.values()) >= BURST // 4 and done[CUT] > 0

    wait_for(a_quarter_done, 60, "a quarter of the burst to be done, some of it on the host to cut off")
    host.cut_off()
    with store.session(url) as s:
        cut_at = s.scalar(select(func.now()))
    before = workload.by_host(url)
    assert not any(host.reaches(port) for port in SERVICE_PORTS), "the cut-off host still reaches a service"

    answers = ResultSet(list(calls.values()), app=hosts.app).get(timeout=120, interval=0.05)

    effects = workload.calls_in(url, workload.effects)
    executed = Counter(workload.calls_in(url, workload.executions))
    per_host = workload.by_host(url)
    in_hand = (set(workload.calls_in(url, workload.started, host=CUT))
               - set(workload.calls_in(url, workload.executions, host=CUT)))
    redelivered = {call for other in set(HOSTS) - {CUT}
                   for call in workload.calls_in(url, workload.executions, host=other, redelivered=True)}
    with store.session(url) as s:
        late = s.scalar(select(func.count()).select_from(workload.started)
                        .where(workload.started.c.host == CUT, workload.started.c.at > cut_at))
    figures = {"calls": BURST, "effects per host": dict(sorted(per_host.items())), "cut-off host's before the cut":
               before[CUT], "in its hands when cut": len(in_hand), "redelivered to the others": len(redelivered),
               "executions": sum(executed.values()), "double executions": sum(n - 1 for n in executed.values()),
               "effect rows": len(effects), "duplicated effects": len(effects) - len(set(effects))}
    print(f"\n{CUT} cut off mid-burst: {figures}")

    assert sorted(answer["call"] for answer in answers) == sorted(calls), "a call was lost or answered twice"
    assert sorted(effects) == sorted(calls), "an effect is missing or was applied twice"
    assert sorted(executed) == sorted(calls)
    assert 0 < before[CUT] == per_host[CUT], "the cut-off host applied effects after it was cut off"
    assert late == 0, "the cut-off host started calls after it was cut off"
    assert redelivered, "nothing the cut-off host held was handed to another host"
    assert in_hand <= redelivered, "a call the cut-off host was running did not go to another host"
