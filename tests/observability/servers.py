"""Organism's HTTP processes (console, metrics, Flower) started as users start them, and what tests ask of them."""

from __future__ import annotations

import base64
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests

from tests.support.services import ROOT, wait_for

if TYPE_CHECKING:
    from playwright.sync_api import Page

ORGANISM = str(Path(sys.executable).with_name("organism"))
# The tests' two accounts, made in each store with `organism operators add` before a server starts (accounts()).
USER, PASSWORD = "operator", "s3cret-pass-of-the-operator"
VIEWER, VIEWER_PASSWORD = "viewer", "s3cret-pass-of-the-viewer"
AUTH, VIEWER_AUTH = (USER, PASSWORD), (VIEWER, VIEWER_PASSWORD)
_stores_with_accounts: set[str] = set()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def basic(user: str = USER, password: str = PASSWORD) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _clean(env: dict[str, str]) -> dict[str, str]:
    """This process's environment without Organism's and Flower's settings, then ``env``."""
    kept = {k: v for k, v in os.environ.items() if not k.startswith(("ORGANISM_", "FLOWER_"))}
    return kept | env | {"PYTHONPATH": str(ROOT)}


def operators_cli(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """``organism operators ARGS`` as an administrator runs it, in its own process."""
    return subprocess.run([ORGANISM, "operators", *args], env=_clean(env), cwd=ROOT, input=stdin,
                          capture_output=True, text=True, timeout=60)


def accounts(env: dict[str, str]) -> dict[str, str]:
    """``env``, once the store it names holds the tests' operator and viewer accounts (made once per store)."""
    store = env.get("ORGANISM_DATABASE_URL") or env["ORGANISM_DATA_DIR"]
    if store not in _stores_with_accounts:
        for name, role, password in ((USER, "operator", PASSWORD), (VIEWER, "viewer", VIEWER_PASSWORD)):
            done = operators_cli(env, "add", name, "--role", role, "--password-stdin", stdin=password + "\n")
            if done.returncode != 0 and "exists" not in done.stderr:
                pytest.fail(f"organism operators add {name} failed:\n{done.stdout}{done.stderr}")
        _stores_with_accounts.add(store)
    return env


def form_token(html: str) -> str:
    """The form token a console page carries (security.form_token)."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    if found is None:
        pytest.fail(f"no form token in the page:\n{html[:2000]}")
    return found[1]


def console_session(console: Server, user: str = USER, password: str = PASSWORD) -> tuple[requests.Session, str]:
    """A ``requests`` session signed in to ``console`` through its log-in form, and its form token."""
    browser = requests.Session()
    answer = browser.post(console.url + "/login", allow_redirects=False, timeout=10, data={
        "csrf_token": form_token(browser.get(console.url + "/login", timeout=10).text), "name": user,
        "password": password})
    if answer.status_code != 302:
        pytest.fail(f"signing in as {user} answered {answer.status_code}: {answer.text[:500]}")
    return browser, form_token(browser.get(console.url + "/login", timeout=10).text)


def sign_in(page: Page, user: str = USER, password: str = PASSWORD) -> None:
    """Sign ``page``'s browser context in through the console's log-in form, as an operator does."""
    page.goto("/login")
    page.fill("#login input[name=name]", user)
    page.fill("#login input[name=password]", password)
    with page.expect_navigation():
        page.click("#login button[type=submit]")
    if "/login" in page.url:
        pytest.fail(f"signing in as {user} failed: {page.text_content('#login-error')}")


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return requests.get(self.url + path, timeout=10, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return requests.post(self.url + path, timeout=10, **kwargs)


@contextmanager
def serving(command: str, env: dict[str, str], log: Path, probe: str = "/", timeout_s: float = 40) -> Iterator[Server]:
    """Run ``organism COMMAND --port P`` until the block ends; ready once ``probe`` answers at all."""
    port = free_port()
    with log.open("ab") as out:
        process = subprocess.Popen([ORGANISM, command, "--host", "127.0.0.1", "--port", str(port)],
                                   env=_clean(env), cwd=ROOT, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    server = Server(f"http://127.0.0.1:{port}", process, log)

    def answering() -> bool:
        if process.poll() is not None:
            pytest.fail(f"organism {command} exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            server.get(probe)
        except requests.ConnectionError:
            return False
        return True

    try:
        wait_for(answering, timeout_s, f"organism {command} to answer on port {port}", interval_s=0.2)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait()
