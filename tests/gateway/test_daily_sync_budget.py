"""A Daily Sync on real workers with a model configured and a budget that one call spends: the run goes on
without the model where the budget refused it, and says so."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from organism.cli.main import main
from tests.conftest import daily_sync_on_own_workers
from tests.gateway.conftest import API_KEY, FakeServer
from tests.support.services import ensure_services

ONE_CALL_USD = "0.000001"  # the fake model's first answer costs more than this


def test_a_daily_sync_past_its_budget_finishes_without_the_model_and_says_so(fake_server: FakeServer,
                                                                           tmp_path: Path) -> None:
    ensure_services()
    fake_server.reset()
    run, _, env = daily_sync_on_own_workers(tmp_path, {
        "ORGANISM_GATEWAY__BASE_URL": fake_server.url, "ORGANISM_GATEWAY__MODEL": "fake-model",
        "ORGANISM_GATEWAY__API_KEY": API_KEY, "ORGANISM_GATEWAY__DAILY_BUDGET_USD": ONE_CALL_USD})

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
