"""A campaign of randomly malformed task messages against real workers: no message may stop a worker.

Hypothesis draws each message (headers dropped or of any JSON type, Celery's and Organism's; bodies of every
shape, nested up to 700 levels deep or up to 12 MiB; raw bytes under several content types; odd properties) from
the strategies in tests/support/hostile_messages.py, the same ones tests/integration/test_message_fuzz.py runs
40 of per broker in CI. One perception worker (two prefork children) takes them one at a time on each broker.
Each must end as a success, a retry, or exactly one dead letter, with the worker's main process alive throughout.

    .venv/bin/python -m bench.fuzz_messages --messages 1000
"""

from __future__ import annotations

import argparse
import time

from hypothesis import HealthCheck, given, settings

from bench.common import BenchError, Report, cluster, main, parser, step
from tests.support.hostile_messages import Hostile, Tally, WorkerDied, hostile_messages, judge

MODULES = ["bench.noop_tasks", "tests.support.noop"]
OUTCOMES = ("succeeded", "retrying", "dead-lettered", "refused by the client")


def campaign(report: Report) -> None:
    args = report.args
    rows = [one_broker(profile, args.messages) for profile in args.profiles.split(",")]
    report.table("Malformed messages against one perception worker", [
        "broker", "messages", *OUTCOMES, "worker exits", "seconds"], rows,
        note="Every message ended as a success or exactly one dead letter (or the client refused to send it: a "
             "header AMQP cannot carry), and the worker's main process was the same one from first to last.")


def one_broker(profile: str, messages: int) -> list[object]:
    with cluster(profile, MODULES, ["perception"]) as bench:
        pid = bench.workers.processes["perception"].pid
        tally = Tally()

        @settings(max_examples=messages, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        @given(message=hostile_messages())
        def each(message: Hostile) -> None:
            judge(bench.app, bench.workers, message, tally)
            done = sum(tally.outcomes.values())
            if done % 100 == 0:
                step(f"{profile}: {done} messages: {tally.line()}")

        began = time.monotonic()
        try:
            each()
        except WorkerDied as died:
            raise BenchError(f"{profile}: {died}") from None
        if bench.workers.processes["perception"].pid != pid:
            raise BenchError(f"{profile}: the worker's main process changed")
        return [profile, sum(tally.outcomes.values()), *(tally.outcomes[o] for o in OUTCOMES), 0,
                round(time.monotonic() - began, 1)]


def arguments() -> argparse.Namespace:
    p = parser(__doc__.split("\n")[0])
    p.add_argument("--messages", type=int, default=1000, help="messages per broker (default 1000)")
    p.add_argument("--profiles", default="production,redis", help="brokers, as profiles (default both)")
    p.set_defaults(time_limit=3600)
    return p.parse_args()


def run() -> int:
    return main("bench.fuzz_messages", arguments(), campaign)


if __name__ == "__main__":
    raise SystemExit(run())
