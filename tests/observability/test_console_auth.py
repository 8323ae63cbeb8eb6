"""Who may do what in the console: named accounts sign in with a form (scripts send basic credentials), viewers
only read, operators act with the form's token; a changed password or a removed account ends its sessions;
repeated wrong passwords are slowed down and logged; redirects stay on the site; every answer carries the security
headers, and Chromium refuses to show the console inside another site's page."""

from __future__ import annotations

import http.server
import re
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
import requests
from celery import current_app
from flask.testing import FlaskClient
from playwright.sync_api import Browser, Page, expect

from organism import operators, store
from organism.app import create_app
from organism.console import create_console
from organism.console.security import HEADERS, safe_back
from organism.failures import dead_letters
from organism.observability.settings import ObservabilitySettings
from organism.settings import Settings
from tests.conftest import Cluster, make_settings
from tests.integration.test_cli import organism
from tests.observability.servers import (
    AUTH,
    USER,
    VIEWER,
    VIEWER_AUTH,
    VIEWER_PASSWORD,
    Server,
    accounts,
    basic,
    console_session,
    form_token,
    free_port,
    operators_cli,
    serving,
    sign_in,
)
from tests.support.faulty import refuse
from tests.support.services import profile_env, wait_for

pytestmark = pytest.mark.integration


def _letter(production: Cluster) -> int:
    with pytest.raises(Exception, match="no entry"):
        refuse.delay("no entry").get(timeout=20)
    return wait_for(lambda: dead_letters.find(production.settings.database), 20, "the dead letter")[0].id


def _status(production: Cluster, letter_id: int) -> str:
    letter = dead_letters.get(production.settings.database, letter_id)
    assert letter is not None
    return letter.status


def test_actions_need_an_operator_account_and_the_form_token(production: Cluster, console: Server) -> None:
    letter = _letter(production)

    anonymous = console.post("/dead-letters/replay", data={"id": letter})
    wrong = console.post("/dead-letters/replay", data={"id": letter}, auth=(USER, "guess-guess-guess"))
    viewer = console.post("/dead-letters/replay", data={"id": letter}, auth=VIEWER_AUTH)
    forged = console.post("/dead-letters/replay", data={"id": letter}, auth=AUTH)

    assert anonymous.status_code == wrong.status_code == 401
    assert anonymous.headers["WWW-Authenticate"].startswith("Basic")
    assert viewer.status_code == 403 and f"{VIEWER} is a viewer" in viewer.text
    assert forged.status_code == 400 and "stale or came from another site" in forged.text
    assert _status(production, letter) == "dead"
    page = console.get("/dead-letters", allow_redirects=False)
    assert page.status_code == 302 and page.headers["Location"] == "/login?next=/dead-letters"
    assert console.get("/dead-letters", auth=AUTH).status_code == 200
    assert console.get("/dead-letters", auth=VIEWER_AUTH).status_code == 200
    assert console.get("/healthz").json() == {"status": "ok"}
    assert console.get("/readyz").json()["status"] == "ready"


def test_an_operator_signs_in_and_out_and_a_viewer_may_only_read(production: Cluster, browser: Browser,
                                                                  console: Server) -> None:
    letter = _letter(production)
    context = browser.new_context(base_url=console.url)
    page = context.new_page()
    try:
        page.goto("/runs")
        expect(page).to_have_url(re.compile(r"/login\?next=/runs$"))
        page.fill("#login input[name=name]", USER)
        page.fill("#login input[name=password]", "not-the-password")
        page.click("#login button[type=submit]")
        expect(page.locator("#login-error")).to_have_text("wrong name or password")
        sign_in(page)
        expect(page.locator("#signed-in")).to_contain_text(f"{USER} · operator")
        page.click("#signed-in button")
        expect(page).to_have_url(re.compile(r"/login$"))
        expect(page.locator(".flash.ok")).to_have_text("signed out")
        page.goto("/runs")
        expect(page).to_have_url(re.compile(r"/login\?next=/runs$"))

        sign_in(page, VIEWER, VIEWER_PASSWORD)
        page.goto(f"/dead-letters/{letter}")
        expect(page.locator("#signed-in")).to_contain_text(f"{VIEWER} · viewer")
        with page.expect_navigation() as refused:
            page.click("#replay-one")
        assert refused.value is not None and refused.value.status == 403
        expect(page.locator("body")).to_contain_text(f"{VIEWER} is a viewer: viewers may read every page")
    finally:
        context.close()
    assert _status(production, letter) == "dead"


def test_a_changed_password_or_a_removed_account_ends_its_sessions(production: Cluster, console: Server) -> None:
    name, first, second = "leaver", "first-password-0001", "second-password-002"
    env = production.env
    assert operators_cli(env, "add", name, "--role", "operator", "--password-stdin", stdin=first).returncode == 0
    try:
        browser, _ = console_session(console, name, first)
        assert browser.get(console.url + "/runs", timeout=10).status_code == 200

        changed = operators_cli(env, "passwd", name, "--password-stdin", stdin=second + "\n")
        assert changed.returncode == 0, changed.stderr
        assert browser.get(console.url + "/runs", allow_redirects=False, timeout=10).status_code == 302
        browser, _ = console_session(console, name, second)
        assert browser.get(console.url + "/runs", timeout=10).status_code == 200

        assert operators_cli(env, "remove", name).returncode == 0
        assert browser.get(console.url + "/runs", allow_redirects=False, timeout=10).status_code == 302
    finally:
        operators_cli(env, "remove", name)


@pytest.fixture
def typist(production: Cluster) -> Iterator[tuple[str, str]]:
    """An account of its own for wrong passwords, so that the shared ones are never slowed down."""
    name, password = "typist", "the-right-password"
    made = operators_cli(production.env, "add", name, "--role", "viewer", "--password-stdin", stdin=password)
    assert made.returncode == 0, made.stderr
    yield name, password
    operators_cli(production.env, "remove", name)


def test_repeated_wrong_passwords_are_slowed_down_and_logged(production: Cluster, console: Server,
                                                            typist: tuple[str, str]) -> None:
    name, password = typist
    browser = requests.Session()
    token = form_token(browser.get(console.url + "/login", timeout=10).text)

    def attempt(who: str, given: str) -> requests.Response:
        return browser.post(console.url + "/login", data={"csrf_token": token, "name": who, "password": given},
                            allow_redirects=False, timeout=30)

    wrong = [attempt(name, f"guess-number-{n}") for n in range(operators.FREE_FAILURES)]
    unknown = attempt("nobody", "guess-number-x")
    slowed = attempt(name, password)  # the right password, but too soon: not even checked
    script = console.get("/runs", auth=(name, password))

    assert [answer.status_code for answer in wrong] == [401] * operators.FREE_FAILURES
    assert all("wrong name or password" in answer.text for answer in [*wrong, unknown])
    assert unknown.status_code == 401
    assert slowed.status_code == script.status_code == 429
    assert f"too many failed log-ins as {name}: try again in" in slowed.text
    assert 0 < int(slowed.headers["Retry-After"]) <= operators.FIRST_WAIT_S
    assert "Retry-After" in script.headers
    account = operators.get(production.settings.database, name)
    assert account is not None and account.failed_logins == operators.FREE_FAILURES
    assert account.last_failed_at is not None
    log = console.log.read_text()
    for n in range(1, operators.FREE_FAILURES + 1):
        assert f"failed log-in as '{name}' from 127.0.0.1: wrong password, {n} in a row" in log
    assert "failed log-in as unknown operator 'nobody' from 127.0.0.1" in log
    assert f"log-in as '{name}' from 127.0.0.1 refused unheard: 3 failures in a row" in log
    assert "guess-number" not in log and password not in log


EVIL = ["https://evil.example/x", "//evil.example/x", "/\\evil.example/x", "/\t/evil.example/x", "javascript:alert(1)",
        "http:/evil.example"]


def test_safe_back_allows_only_paths_of_this_site() -> None:
    assert [safe_back(value, "/home") for value in EVIL] == ["/home"] * len(EVIL)
    assert [safe_back(value, "/home") for value in ("", None, "runs", "/%2F/evil.example")] == \
        ["/home", "/home", "/home", "/%2F/evil.example"]
    assert safe_back("/dead-letters?status=dead&page=2", "/home") == "/dead-letters?status=dead&page=2"


def test_redirects_taken_from_a_request_stay_on_the_site(production: Cluster, console: Server) -> None:
    browser, token = console_session(console)
    landed = {back: browser.post(console.url + "/dead-letters/replay", allow_redirects=False, timeout=10,
                                 data={"csrf_token": token, "id": "999999999", "back": back}).headers["Location"]
              for back in [*EVIL, "/dead-letters?status=replayed"]}
    signed_in = {}
    for after in ("https://evil.example/", "//evil.example/", "/dead-letters?status=dead"):
        fresh = requests.Session()
        sent = {"csrf_token": form_token(fresh.get(console.url + "/login", timeout=10).text), "name": AUTH[0],
                "password": AUTH[1], "next": after}
        signed_in[after] = fresh.post(console.url + "/login", data=sent, allow_redirects=False, timeout=10)

    assert landed == {**dict.fromkeys(EVIL, "/dead-letters"),
                      "/dead-letters?status=replayed": "/dead-letters?status=replayed"}
    assert {after: answer.headers["Location"] for after, answer in signed_in.items()} == {
        "https://evil.example/": "/runs", "//evil.example/": "/runs",
        "/dead-letters?status=dead": "/dead-letters?status=dead"}


@pytest.fixture
def own_app() -> Iterator[None]:
    """Tests here build apps of their own; the app the other tests send through stays current."""
    previous = current_app._get_current_object()
    yield
    previous.set_current()
    previous.set_default()


def _client(tmp_path: Path, **changes: object) -> FlaskClient:
    accounts(profile_env("embedded", tmp_path))  # migrates the store, as `organism operators add` does
    settings = Settings(data_dir=tmp_path, **changes)  # type: ignore[arg-type]
    return create_console(create_app(settings)).test_client()


def test_reads_are_open_on_loopback_only_when_configured_and_actions_never(own_app: None, tmp_path: Path) -> None:
    client = _client(tmp_path, observability=ObservabilitySettings(open_reads_on_loopback=True))
    loopback, remote = {"REMOTE_ADDR": "127.0.0.1"}, {"REMOTE_ADDR": "192.0.2.7"}

    assert client.get("/runs", environ_base=loopback).status_code == 200
    assert client.get("/runs", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200
    assert client.get("/runs", environ_base=remote).status_code == 302
    assert client.post("/dead-letters/purge", data={"id": "1"}, environ_base=loopback).status_code == 401
    closed = _client(tmp_path)
    assert closed.get("/runs", environ_base=loopback).status_code == 302
    assert closed.get("/runs", headers={"Authorization": basic()}).status_code == 200


def test_every_answer_carries_the_security_headers(own_app: None, tmp_path: Path) -> None:
    client = _client(tmp_path)
    operator, viewer = {"Authorization": basic()}, {"Authorization": basic(*VIEWER_AUTH)}

    answers = {"login": client.get("/login"), "probe": client.get("/healthz"),
               "static": client.get("/static/console.css"), "missing": client.get("/nope", headers=operator),
               "redirect": client.get("/runs"), "page": client.get("/runs", headers=operator),
               "anonymous action": client.post("/dead-letters/purge", data={"id": "1"}),
               "viewer action": client.post("/dead-letters/purge", data={"id": "1"}, headers=viewer),
               "stale form": client.post("/dead-letters/purge", data={"id": "1"}, headers=operator),
               "wrong password": client.get("/runs", headers={"Authorization": basic(password="nope-nope-nope")})}

    assert {what: answer.status_code for what, answer in answers.items()} == {
        "login": 200, "probe": 200, "static": 200, "missing": 404, "redirect": 302, "page": 200,
        "anonymous action": 401, "viewer action": 403, "stale form": 400, "wrong password": 401}
    for what, answer in answers.items():
        assert {name: answer.headers.get(name) for name in HEADERS} == HEADERS, what
    assert "frame-ancestors 'none'" in HEADERS["Content-Security-Policy"]
    assert "default-src 'self'" in HEADERS["Content-Security-Policy"]


@pytest.fixture
def other_site(tmp_path: Path) -> Iterator[str]:
    """Another web site on this host (same site, other origin): a page framing the console, and one of its own."""
    folder = tmp_path / "other-site"
    folder.mkdir()
    (folder / "own.html").write_text("<p id='mine'>a page of this site</p>")
    port = free_port()
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()
    server.server_close()


def test_chromium_refuses_to_show_the_console_framed_by_another_page(production: Cluster, browser: Browser,
                                                                     console: Server, other_site: str,
                                                                     tmp_path: Path) -> None:
    (tmp_path / "other-site" / "index.html").write_text(
        f"<iframe id='console' src='{console.url}/dead-letters'></iframe><iframe id='own' src='/own.html'></iframe>")
    context = browser.new_context(base_url=console.url)
    page = context.new_page()
    try:
        sign_in(page)  # the session cookie is SameSite=Lax: the framing page is the same site, so it is sent
        said: list[str] = []
        page.on("console", lambda message: said.append(message.text))
        page.goto(other_site + "/index.html", wait_until="load")
        expect(page.frame_locator("#own").locator("#mine")).to_have_text("a page of this site")
        wait_for(lambda: any("frame-ancestors" in line for line in said), 10, "Chromium to report the refusal")
        framed = [frame for frame in page.frames if frame.url.startswith(console.url)]
        assert all(frame.locator("#signed-in").count() == 0 for frame in framed)
        assert page.frame_locator("#console").locator("#signed-in").count() == 0
    finally:
        context.close()


def test_no_console_page_breaks_its_own_content_security_policy(production: Cluster, page: Page) -> None:
    said: list[str] = []
    page.on("console", lambda message: said.append(message.text))
    page.goto("/runs")
    pages = [href for href in page.locator("header nav a").evaluate_all("links => links.map(a => a.href)")
             if href.startswith(page.url.rsplit("/", 1)[0])]
    assert len(pages) >= 5, pages
    for address in [*pages, f"/dead-letters/{_letter(production)}"]:
        page.goto(address, wait_until="load")
    page.goto("/login", wait_until="load")

    assert [line for line in said if "Content Security Policy" in line] == []


def test_the_shared_password_setting_is_gone_with_one_line_saying_what_to_do(tmp_path: Path) -> None:
    env = profile_env("embedded", tmp_path) | {"ORGANISM_OBSERVABILITY__PASSWORD": "old-shared-password"}

    done = organism("console", "--port", str(free_port()), env=env, timeout_s=30)

    assert done.returncode == 1 and "Traceback" not in done.stderr and "old-shared-password" not in done.stderr
    assert done.stderr.strip().splitlines() == [
        "Error: bad configuration: setting ORGANISM_OBSERVABILITY__PASSWORD: no such setting; the one shared "
        "operator password is gone: unset it and create named accounts with `organism operators add NAME --role "
        "operator`"]


# The only routes anyone may call: the probes carry no credentials, static files are the console's CSS and JS,
# and the log-in form (log-out only ends the session it is sent with).
OPEN = {"probes.healthz", "probes.readyz", "static", "login.form", "login.sign_in", "login.sign_out"}


def _sample_path(rule: str) -> str:
    """A path ``rule`` matches: 1 for an ``int`` part, ``x`` for any other."""
    return re.sub(r"<(?:(\w+)(?:\([^)]*\))?:)?\w+>", lambda part: "1" if part[1] == "int" else "x", rule)


def test_every_console_route_but_the_probes_static_files_and_log_in_asks_for_an_account(own_app: None,
                                                                                        tmp_path: Path) -> None:
    token = "scrape-0123456789abcdef"
    env = accounts(profile_env("embedded", tmp_path) | {"ORGANISM_OBSERVABILITY__SCRAPE_TOKEN": token})
    settings = make_settings(env)
    store.migrate(settings.database)
    rules = list(create_console(create_app(settings)).url_map.iter_rules())
    guarded = [(method, _sample_path(rule.rule)) for rule in rules if rule.endpoint not in OPEN
               for method in sorted(rule.methods or ()) if method != "OPTIONS"]
    assert {rule.endpoint for rule in rules} >= OPEN
    assert ("GET", "/dead-letters/1") in guarded and ("POST", "/dead-letters/replay") in guarded

    with serving("console", env, tmp_path / "console.log", probe="/healthz") as console:
        anonymous = {(method, path): requests.request(method, console.url + path, allow_redirects=False, timeout=10)
                     for method, path in guarded}
        bearer = {path: console.get(path, headers={"Authorization": f"Bearer {token}"}, allow_redirects=False)
                  for method, path in guarded if method == "GET"}
        probes = [console.get("/healthz").status_code, console.get("/readyz").status_code,
                  console.get("/static/x").status_code]
        signed_in = console.get("/dead-letters", auth=AUTH).status_code

    def refused(method: str, path: str, answer: requests.Response) -> bool:
        if method in ("GET", "HEAD"):
            return answer.status_code == 302 and answer.headers["Location"] == f"/login?next={path}"
        return answer.status_code == 401

    assert {key: answer.status_code for key, answer in anonymous.items() if not refused(*key, answer)} == {}
    assert {path: answer.status_code for path, answer in bearer.items() if not refused("GET", path, answer)} == {}, \
        "the scrape token opened a page"
    assert probes == [200, 200, 404] and signed_in == 200


def test_readyz_names_the_unreachable_broker_and_the_fix(own_app: None, tmp_path: Path) -> None:
    client = _client(tmp_path, broker_url="amqp://guest:guest@127.0.0.1:1//")

    answer = client.get("/readyz")

    assert answer.status_code == 503
    assert answer.json["status"] == "not ready" and answer.json["checks"]["store"] == "ok"  # type: ignore[index]
    assert "start RabbitMQ" in answer.json["checks"]["broker"]  # type: ignore[index]
    assert client.get("/healthz").status_code == 200
