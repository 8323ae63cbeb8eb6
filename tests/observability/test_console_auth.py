"""Who may do what in the console: actions need the operator's credentials and the form's token; reads are open
only on loopback and only when configured; the probes are open, and every other route asks for credentials."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from celery import current_app
from flask.testing import FlaskClient

from organism import store
from organism.app import create_app
from organism.console import create_console
from organism.failures import dead_letters
from organism.observability.settings import ObservabilitySettings
from organism.settings import Settings
from tests.conftest import Cluster, make_settings
from tests.observability.servers import AUTH, OPERATOR_ENV, PASSWORD, USER, Server, basic, serving
from tests.support.faulty import refuse
from tests.support.services import profile_env, wait_for

pytestmark = pytest.mark.integration


def test_replay_without_credentials_or_token_is_refused(production: Cluster, console: Server) -> None:
    with pytest.raises(Exception, match="no entry"):
        refuse.delay("no entry").get(timeout=20)
    letter = wait_for(lambda: dead_letters.find(production.settings.database), 20, "the dead letter")[0]

    anonymous = console.post("/dead-letters/replay", data={"id": letter.id})
    wrong = console.post("/dead-letters/replay", data={"id": letter.id}, auth=(AUTH[0], "guess"))
    forged = console.post("/dead-letters/replay", data={"id": letter.id}, auth=AUTH)

    assert anonymous.status_code == wrong.status_code == 401
    assert anonymous.headers["WWW-Authenticate"].startswith("Basic")
    assert forged.status_code == 400 and "stale or came from another site" in forged.text
    assert dead_letters.get(production.settings.database, letter.id).status == "dead"  # type: ignore[union-attr]
    assert console.get("/dead-letters").status_code == 401
    assert console.get("/dead-letters", auth=AUTH).status_code == 200
    assert console.get("/healthz").json() == {"status": "ok"}
    assert console.get("/readyz").json()["status"] == "ready"


@pytest.fixture
def own_app() -> Iterator[None]:
    """Tests here build apps of their own; the app the other tests send through stays current."""
    previous = current_app._get_current_object()
    yield
    previous.set_current()
    previous.set_default()


def _client(tmp_path: Path, **changes: object) -> FlaskClient:
    settings = Settings(data_dir=tmp_path, **changes)  # type: ignore[arg-type]
    store.migrate(settings.database)
    return create_console(create_app(settings)).test_client()


def test_reads_are_open_on_loopback_only_when_configured_and_actions_never(own_app: None, tmp_path: Path) -> None:
    open_reads = ObservabilitySettings(username=USER, password=PASSWORD, open_reads_on_loopback=True)
    client = _client(tmp_path, observability=open_reads)
    loopback, remote = {"REMOTE_ADDR": "127.0.0.1"}, {"REMOTE_ADDR": "192.0.2.7"}

    assert client.get("/runs", environ_base=loopback).status_code == 200
    assert client.get("/runs", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200
    assert client.get("/runs", environ_base=remote).status_code == 401
    assert client.post("/dead-letters/purge", data={"id": "1"}, environ_base=loopback).status_code == 401
    closed = _client(tmp_path, observability=ObservabilitySettings(username=USER, password=PASSWORD))
    assert closed.get("/runs", environ_base=loopback).status_code == 401
    assert closed.get("/runs", headers={"Authorization": basic()}).status_code == 200


# The only routes anyone may call: the probes carry no credentials, and static files are the console's CSS and JS.
OPEN = {"probes.healthz", "probes.readyz", "static"}


def _sample_path(rule: str) -> str:
    """A path ``rule`` matches: 1 for an ``int`` part, ``x`` for any other."""
    return re.sub(r"<(?:(\w+)(?:\([^)]*\))?:)?\w+>", lambda part: "1" if part[1] == "int" else "x", rule)


def test_every_console_route_but_the_probes_and_static_files_asks_for_credentials(own_app: None,
                                                                                   tmp_path: Path) -> None:
    token = "scrape-0123456789abcdef"
    env = profile_env("embedded", tmp_path) | OPERATOR_ENV | {"ORGANISM_OBSERVABILITY__SCRAPE_TOKEN": token}
    settings = make_settings(env)
    store.migrate(settings.database)
    rules = list(create_console(create_app(settings)).url_map.iter_rules())
    guarded = [(method, _sample_path(rule.rule)) for rule in rules if rule.endpoint not in OPEN
               for method in sorted(rule.methods or ()) if method != "OPTIONS"]
    assert {rule.endpoint for rule in rules} >= OPEN
    assert ("GET", "/dead-letters/1") in guarded and ("POST", "/dead-letters/replay") in guarded

    with serving("console", env, tmp_path / "console.log", probe="/healthz") as console:
        anonymous = {(method, path): requests.request(method, console.url + path, timeout=10).status_code
                     for method, path in guarded}
        bearer = {path: console.get(path, headers={"Authorization": f"Bearer {token}"}).status_code
                  for method, path in guarded if method == "GET"}
        probes = [console.get("/healthz").status_code, console.get("/readyz").status_code,
                  console.get("/static/x").status_code]
        signed_in = console.get("/dead-letters", auth=AUTH).status_code

    assert {key: status for key, status in anonymous.items() if status != 401} == {}
    assert {path: status for path, status in bearer.items() if status != 401} == {}, "the scrape token opened a page"
    assert probes == [200, 200, 404] and signed_in == 200


def test_actions_are_refused_without_a_configured_password(own_app: None, tmp_path: Path) -> None:
    client = _client(tmp_path)

    refused = client.post("/dead-letters/replay", data={"id": "1"}, headers={"Authorization": basic()})

    assert refused.status_code == 401 and "ORGANISM_OBSERVABILITY__PASSWORD" in refused.text


def test_readyz_names_the_unreachable_broker_and_the_fix(own_app: None, tmp_path: Path) -> None:
    client = _client(tmp_path, broker_url="amqp://guest:guest@127.0.0.1:1//")

    answer = client.get("/readyz")

    assert answer.status_code == 503
    assert answer.json["status"] == "not ready" and answer.json["checks"]["store"] == "ok"  # type: ignore[index]
    assert "start RabbitMQ" in answer.json["checks"]["broker"]  # type: ignore[index]
    assert client.get("/healthz").status_code == 200
