"""Who may see and do what in the console.

* Actions (every ``POST``: replay, purge) need the operator's basic credentials and the form's token. The token
  lives in the signed session cookie (``SameSite=Lax``): basic credentials ride along with any request a
  browser sends, so without it another site's form could replay dead letters in an operator's name.
* Pages that only read need the credentials too, unless ``open_reads_on_loopback`` is set and the request
  comes from 127.0.0.1 or ::1 (behind a proxy every request comes from the proxy: leave it off there).
* ``/healthz``, ``/readyz`` and static files are open: probes carry no credentials.
"""

from __future__ import annotations

import ipaddress
import secrets

from flask import Flask, Response, abort, g, request, session

from organism.observability.auth import REALM, authorized
from organism.observability.settings import ObservabilitySettings

OPEN_ENDPOINTS = frozenset({"probes.healthz", "probes.readyz", "static"})
TOKEN_FIELD = "csrf_token"


def _loopback(address: str | None) -> bool:
    try:
        return address is not None and ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def form_token() -> str:
    """This session's form token (made on first use), for templates to put in every form."""
    token = session.get(TOKEN_FIELD)
    if not isinstance(token, str):
        token = session[TOKEN_FIELD] = secrets.token_urlsafe(32)
    return token


def _challenge(why: str) -> Response:
    return Response(f"{why}\n", 401, {"WWW-Authenticate": REALM, "Content-Type": "text/plain; charset=utf-8"})


def install(console: Flask, settings: ObservabilitySettings) -> None:
    """Guard every request of ``console`` as the module docstring says."""
    console.config.update(SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_HTTPONLY=True)
    console.jinja_env.globals["form_token"] = form_token

    @console.before_request
    def guard() -> Response | None:
        if request.endpoint in OPEN_ENDPOINTS:
            return None
        g.operator = authorized(request.headers.get("Authorization"), settings)
        if request.method in ("GET", "HEAD"):
            if g.operator or (settings.open_reads_on_loopback and _loopback(request.remote_addr)):
                return None
            return _challenge("credentials required")
        if not g.operator:
            if settings.password is None:
                return _challenge("actions are disabled: set ORGANISM_OBSERVABILITY__PASSWORD")
            return _challenge("credentials required for this action")
        sent = request.form.get(TOKEN_FIELD, "")
        if not sent or not secrets.compare_digest(sent, str(session.get(TOKEN_FIELD, ""))):
            abort(400, "the form is stale or came from another site: reload the page and try again")
        return None
