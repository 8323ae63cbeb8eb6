"""What message signing costs: no-op skill calls with signing off and on, side by side on one broker.

Two Organism clusters of the production profile, each in its own RabbitMQ vhost (``organism_bench_unsigned``,
``organism_bench_signed``), each one perception worker as ``organism worker`` starts it; the signed one has
``[signing]`` on with a key of ``organism keys generate``'s default size. Measurements alternate between them
(AB BA ...):

* throughput: N calls sent at once, then every result awaited; calls per second, and the CPU each call cost the
  producer (signing) and the workers (verifying, and signing what they publish), from /proc;
* round trip: one call at a time; p50 and p95 in ms.

    .venv/bin/python -m bench.signing
"""

from __future__ import annotations

import tempfile
from contextlib import ExitStack
from pathlib import Path

from bench import ab
from bench.common import RABBITMQ_VHOST, Report, cluster, main
from organism.security.signing_keys import KEY_BITS, generate

LABELS = {"unsigned": "signing off (JSON)", "signed": f"signing on (RSA {KEY_BITS}, sha256)"}


def measure(report: Report) -> None:
    args = report.args
    with ExitStack() as running:
        keys = Path(running.enter_context(tempfile.TemporaryDirectory(prefix="organism-bench-keys-")))
        made = generate(keys / "key.pem", keys / "cert.pem", "organism-bench")
        signed_env = {"ORGANISM_SIGNING__ENABLED": "true", "ORGANISM_SIGNING__KEY_FILE": str(made.key),
                      "ORGANISM_SIGNING__CERTIFICATE_FILE": str(made.certificate)}
        clusters = {name: running.enter_context(cluster(
            "production", ["bench.noop_tasks"], ["perception"], with_store=False, extra_env=env,
            vhost=f"{RABBITMQ_VHOST}_{name}")) for name, env in (("unsigned", {}), ("signed", signed_env))}
        ab.compare(
            report, {name: ab.noop(LABELS[name], on) for name, on in clusters.items()}, "unsigned",
            f"Signing, production profile (RabbitMQ, Redis results): {2 * args.rounds} batches of {args.calls} "
            f"no-op skill calls and {args.samples} round trips each, alternating",
            "One perception worker each (the organ's defaults). CPU per call: producer (this process), workers "
            "(every worker process), RabbitMQ + Redis, over the throughput batches.",
            versus="off")


if __name__ == "__main__":
    raise SystemExit(main("bench.signing", ab.arguments(__doc__.split("\n")[0], "cluster"), measure))
