"""A Daily Sync on real workers with a model configured and a budget that one call spends: the run goes on
without the model where the budget refused it, and says so."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

from click.testing import CliRunner

from organism import store
from organism.app import create_app
from organism.cli import main
from organism.local import LocalWorkers
from organism.workflow import start
from tests.conftest import make_settings
from tests.gateway.conftest import API_KEY, FakeServer
from tests.support.services import ROOT, ensure_services, finished_run, profile_env

ONE_CALL_USD = "0.000001"  # the fake model's first answer costs more than this


def test_a_daily_sync_past_its_budget_finishes_without_the_model_and_says_so(fake_server: FakeServer,
                                                                           tmp_path: Path) -> None:
    ensure_services()
    fake_server.reset()
    env = profile_env("embedded", tmp_path) | {
        "ORGANISM_GATEWAY__BASE_URL": fake_server.url, "ORGANISM_GATEWAY__MODEL": "fake-model",
        "ORGANISM_GATEWAY__API_KEY": API_KEY, "ORGANISM_GATEWAY__DAILY_BUDGET_USD": ONE_CALL_USD,
        "PYTHONPATH": str(ROOT)}
    settings = make_settings(env)
    store.migrate(settings.database)
    app = create_app(settings)
    with LocalWorkers(settings, env=env, log_dir=tmp_path / "logs"):
        started = start(app, "daily-sync", date(2026, 11, 23))
        run = finished_run(settings.database, started.run_id, timeout_s=120)

    assert run.status == "succeeded", run.error
    nodes = {n.name: n for n in run.nodes}
    assert nodes["synthesis"].result["engine"] == "model:fake-model"
    for name in ("eval.opportunity", "eval.risk"):
        assert [d["dependency"] for d in nodes[name].degraded] == ["model"], name
        assert nodes[name].degraded[0]["reason"].startswith("daily model budget reached"), name
        assert nodes[name].result["engine"].startswith("deterministic (model unavailable: daily model budget")
    assert fake_server.stats()["requests"] == 1, "a refused call reached the model"

    shown = CliRunner().invoke(main, ["runs", "show", run.key], env=env)
    assert shown.exit_code == 0, shown.output
    assert _words(shown.output).count("without model: daily model budget reached") == 2, shown.output
    listed = CliRunner().invoke(main, ["runs"], env=env)
    assert "(degraded)" in listed.output, listed.output  # after "succeeded", wrapped in a narrow column


def _words(table: str) -> str:
    """A rich table's text with cells that wrapped over several lines joined again (other cells are empty)."""
    return " ".join(re.findall(r"[^\s│┃║|]+", table))
