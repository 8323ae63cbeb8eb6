"""``/healthz`` (the console process answers) and ``/readyz`` (its broker and store are usable), both open."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from organism.console.context import organism
from organism.observability.health import readiness

probes = Blueprint("probes", __name__)


@probes.get("/healthz")
def healthz() -> Response:
    """Liveness: no dependency is consulted, so a broker outage never restarts the console."""
    return jsonify(status="ok")


@probes.get("/readyz")
def readyz() -> tuple[Response, int]:
    checks = readiness(organism().settings)
    ready = all(check.ok for check in checks)
    body = {check.name: "ok" if check.ok else f"{check.problem} — {check.fix}" for check in checks}
    return jsonify(status="ready" if ready else "not ready", checks=body), 200 if ready else 503
