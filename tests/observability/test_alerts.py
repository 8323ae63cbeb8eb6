"""The alert rules a deployment loads (deploy/prometheus/organism-alerts.yml): Prometheus' own promtool checks
them and runs their unit tests, and a real scrape of `organism metrics` holds every series, label and value that
the rules and their tests name, so renaming a metric or a label fails here rather than silence an alert."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import delete

from organism.gateway.endpoint import Endpoints
from organism.gateway.models import Endpoint
from organism.store import session
from organism.workflows.start import start
from tests.conftest import Cluster
from tests.observability.servers import Server, serving
from tests.support.faulty import refuse
from tests.support.noop import FAIL_SYNC, GATE, NOOP_SYNC
from tests.support.services import ROOT, finished_run

pytestmark = pytest.mark.integration
RULES_DIR = ROOT / "deploy" / "prometheus"
RULES, RULE_TESTS = RULES_DIR / "organism-alerts.yml", RULES_DIR / "organism-alerts.test.yml"
SCRAPE_TOKEN = "alerts-0123456789abcdef"
TARGET_LABELS = {"job", "instance"}  # what Prometheus adds to every series it scrapes
SELECTOR = re.compile(r"\b(organism_[a-z_]+)(?:\{([^}]*)\})?")
MATCHER = re.compile(r'([a-z_]+)\s*(?:=~|!~|!=|=)\s*"([^"]*)"')
GROUPING = re.compile(r"\b(?:by|on|without|ignoring)\s*\(([^)]*)\)")


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    found = shutil.which("promtool")
    if found is None:
        pytest.fail("promtool is missing: it comes with Debian's prometheus package (apt-get install -y prometheus; "
                    "scripts/test installs it)")
    return subprocess.run([found, *args], cwd=RULES_DIR, capture_output=True, text=True, timeout=60)


def test_promtool_finds_the_rules_valid() -> None:
    checked = promtool("check", "rules", RULES.name)

    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(_rules())} rules found" in checked.stdout


def test_each_rule_fires_when_it_should_and_not_otherwise_in_promtools_unit_tests() -> None:
    tested = promtool("test", "rules", RULE_TESTS.name)

    assert tested.returncode == 0, tested.stdout + tested.stderr
    tests = yaml.safe_load(RULE_TESTS.read_text())["tests"]
    tested_alerts = {case["alertname"] for test in tests for case in test["alert_rule_test"]}
    assert tested_alerts == {rule["alert"] for rule in _rules()}, "a rule without a unit test"


def _rules() -> list[dict[str, Any]]:
    return [rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]]


def test_every_rule_has_a_severity_a_summary_and_a_runbook() -> None:
    for rule in _rules():
        assert rule["labels"]["severity"] in ("critical", "warning"), rule
        assert {"summary", "description", "runbook"} <= set(rule["annotations"]), rule


@pytest.fixture
def scraped(production: Cluster, tmp_path: Path) -> Iterator[dict[str, dict[str, set[str]]]]:
    """A scrape of the exporter after a run succeeded, a run failed, a dead letter and a model endpoint's first
    call, with a daily budget set: per series name, each label's values."""
    url = production.settings.database
    endpoint = f"http://alerts-{uuid.uuid4().hex[:8]}.invalid/v1"
    redis.Redis.from_url(GATE).delete("gate")
    for workflow, day in ((NOOP_SYNC, date(2026, 5, 1)), (FAIL_SYNC, date(2026, 5, 2))):
        finished_run(url, start(production.app, workflow, {"date": day}).run_id)
    with pytest.raises(Exception, match="alerts"):
        refuse.delay("alerts").get(timeout=20)
    with session(url) as s:
        Endpoints(url, endpoint).read(s)
    env = production.env | {"ORGANISM_OBSERVABILITY__SCRAPE_TOKEN": SCRAPE_TOKEN,
                            "ORGANISM_GATEWAY__DAILY_BUDGET_USD": "10"}
    try:
        with serving("metrics", env, tmp_path / "metrics.log", probe="/metrics") as server:
            yield _series(server)
    finally:
        with session(url) as s:
            s.execute(delete(Endpoint).where(Endpoint.endpoint == endpoint))


def _series(server: Server) -> dict[str, dict[str, set[str]]]:
    deadline = time.monotonic() + 10
    while True:  # the dead letter's row is written before its message is rejected: wait for the whole picture
        answer = server.get("/metrics", headers={"Authorization": f"Bearer {SCRAPE_TOKEN}"})
        assert answer.status_code == 200, answer.text
        found: dict[str, dict[str, set[str]]] = {}
        for family in text_string_to_metric_families(answer.text):
            for sample in family.samples:
                labels = found.setdefault(sample.name, defaultdict(set))
                for label, value in sample.labels.items():
                    labels[label].add(value)
        if "organism_dead_letters_total" in found or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def test_a_real_scrape_holds_every_series_the_rules_and_their_tests_name(
        scraped: dict[str, dict[str, set[str]]]) -> None:
    values: dict[str, set[str]] = defaultdict(set)  # every value each label takes in the scrape
    for labels in scraped.values():
        for label, seen in labels.items():
            values[label] |= seen

    for rule in _rules():
        expr = str(rule["expr"])
        names = {name for name, _ in SELECTOR.findall(expr)}
        assert names <= scraped.keys(), f"{rule['alert']}: not in the scrape: {sorted(names - scraped.keys())}"
        for name, matchers in SELECTOR.findall(expr):
            for label, value in MATCHER.findall(matchers):
                assert label in scraped[name], f"{rule['alert']}: {name} has no label {label}"
                assert value in values[label], f"{rule['alert']}: no series has {label}={value!r}"
        grouped = {label.strip() for labels in GROUPING.findall(expr) for label in labels.split(",") if label.strip()}
        offered = {label for name in names for label in scraped[name]}
        assert grouped <= offered, f"{rule['alert']}: groups by labels no series has: {sorted(grouped - offered)}"

    for test in yaml.safe_load(RULE_TESTS.read_text())["tests"]:
        for series in test["input_series"]:
            found = SELECTOR.fullmatch(series["series"])
            assert found is not None, f"{test['name']}: {series['series']} is not one series"
            name, matchers = found.groups()
            assert name in scraped, f"{test['name']}: {name} is not in the scrape"
            missing = {label for label, _ in MATCHER.findall(matchers or "")} - TARGET_LABELS - scraped[name].keys()
            assert not missing, f"{test['name']}: {name} has no label {sorted(missing)}"
