"""A Daily Sync on real workers with a model configured and a budget that one call spends: the run goes on
without the model where the budget refused it, and says so.

The four scans run at once, so which of them reach the model before the first call's cost is recorded varies
from run to run; what does not: each scan asks once on this window (fewer items than one call labels), a scan
whose call got through is on the model, every other model-using node is degraded by the budget, and nothing
after the scans reaches the model."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from organism.cli.main import main
from tasks.daily_sync import EVALUATIONS, SCANS
from tests.conftest import daily_sync_on_own_workers
from tests.gateway.conftest import API_KEY, FakeServer
from tests.support.services import ensure_services

ONE_CALL_USD = "0.000001"  # the fake model's first answer costs more than this
BUDGET_REASON = "daily model budget reached"


def test_a_daily_sync_past_its_budget_finishes_without_the_model_and_says_so(
    fake_server: FakeServer, tmp_path: Path
) -> None:
    ensure_services()
    fake_server.reset()
    run, _, env = daily_sync_on_own_workers(
        tmp_path,
        {
            "ORGANISM_GATEWAY__BASE_URL": fake_server.url,
            "ORGANISM_GATEWAY__MODEL": "fake-model",
            "ORGANISM_GATEWAY__API_KEY": API_KEY,
            "ORGANISM_GATEWAY__DAILY_BUDGET_USD": ONE_CALL_USD,
        },
    )

    assert run.status == "succeeded", run.error
    nodes = {n.name: n for n in run.nodes}
    on_model = [name for name in SCANS if nodes[name].result["engine"] == "model:fake-model"]
    for name in on_model:
        assert not nodes[name].degraded, name
    refused = [name for name in [*SCANS, "synthesis", *EVALUATIONS] if name not in on_model]
    assert {"synthesis", *EVALUATIONS} <= set(refused)  # the first call's cost is recorded before they start
    for name in refused:
        assert [d["dependency"] for d in nodes[name].degraded] == ["model"], name
        assert nodes[name].degraded[0]["reason"].startswith(BUDGET_REASON), name
        assert nodes[name].result["engine"].startswith(f"deterministic (model unavailable: {BUDGET_REASON}"), name
    # The first call always gets through; a scan asks again only after its first call's cost is recorded, so
    # each scan reaches the model at most once, and only the scans on the model did.
    assert 1 <= len(on_model) == fake_server.stats()["requests"] <= len(SCANS), on_model

    shown = CliRunner().invoke(main, ["runs", "show", run.key], env=env)
    assert shown.exit_code == 0, shown.output
    assert _words(shown.output).count(f"without model: {BUDGET_REASON}") == len(refused), shown.output
    listed = CliRunner().invoke(main, ["runs"], env=env)
    assert "(degraded)" in listed.output, listed.output  # after "succeeded", wrapped in a narrow column


def _words(table: str) -> str:
    """A rich table's text with cells that wrapped over several lines joined again (other cells are empty)."""
    return " ".join(re.findall(r"[^\s│┃║|]+", table))
