"""What choosing the next message costs on the embedded broker, with many messages waiting (no services).

kombu's SQL transport takes a queue's oldest row; Organism's takes its highest priority first, read from each stored
envelope (organism.brokers.embedded). This times the query that picks the next row, alone (each read also commits a
write transaction, which costs the same either way), for kombu's order and for Organism's, with and without the
expression index Organism's transport creates::

    .venv/bin/python -m bench.embedded_priority --waiting 500 5000
"""

from __future__ import annotations

import sqlite3
import sys
import tempfile
import time
from pathlib import Path

from kombu import Connection, Exchange, Queue

from bench.common import Report, main, parser
from organism.brokers.embedded import PRIORITY, PRIORITY_INDEX, TRANSPORT

_QUEUE = Queue("judgment", Exchange("organism", type="direct"), routing_key="judgment")
_NEXT = "SELECT id FROM kombu_message WHERE queue_id = 1 AND visible = 1 ORDER BY {order} LIMIT 1"
ORDERS = {"kombu": "timestamp, id", "organism": f"{PRIORITY} DESC, id"}


def fill(path: Path, waiting: int) -> None:
    """``waiting`` low-priority calls of a realistic size, then one critical, through Organism's transport."""
    with Connection(f"sqlite:///{path}", transport=TRANSPORT) as connection:
        producer = connection.Producer(serializer="json")
        for n in range(waiting + 1):
            producer.publish([["source.jsonl"] * 20, {"window": {"start": "x" * 30, "end": "y" * 30}}, {}],
                             exchange=_QUEUE.exchange, routing_key="judgment", declare=[_QUEUE],
                             priority=9 if n == waiting else 0, headers={"task": "q1p0.scan", "id": str(n)})


def best_us(db: sqlite3.Connection, sql: str, repeat: int = 5, number: int = 50) -> float:
    """The fastest of ``repeat`` rounds of ``number`` runs of ``sql``, in microseconds per run."""
    rounds = []
    for _ in range(repeat):
        began = time.perf_counter()
        for _ in range(number):
            db.execute(sql).fetchall()
        rounds.append((time.perf_counter() - began) / number * 1e6)
    return min(rounds)


def measure(report: Report, waiting: list[int]) -> None:
    rows = []
    for count in waiting:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "broker.sqlite"
            fill(path, count)
            db = sqlite3.connect(path)
            indexed = {name: best_us(db, _NEXT.format(order=order)) for name, order in ORDERS.items()}
            db.execute(f"DROP INDEX {PRIORITY_INDEX}")
            bare = {name: best_us(db, _NEXT.format(order=order)) for name, order in ORDERS.items()}
            db.close()
        rows.append([count, bare["kombu"], bare["organism"], indexed["organism"]])
    report.table("Choosing the next message (µs, the query alone, fastest of 5 rounds of 50)",
                 ["waiting", "kombu's order (oldest)", "Organism's, no index", "Organism's, its index"], rows)


if __name__ == "__main__":
    arguments = parser(__doc__.split("\n")[0])
    arguments.add_argument("--waiting", type=int, nargs="+", default=[500, 5000], help="messages waiting")
    parsed = arguments.parse_args()
    sys.exit(main("bench.embedded_priority", parsed, lambda report: measure(report, parsed.waiting)))
