"""Who may see and do what in the console, and the headers every answer carries.

* Operators sign in at ``/login`` with their named account (organism/operators.py) and get a signed session
  cookie (``HttpOnly``, ``SameSite=Lax``, ``Secure`` over https, 12 hours); it ends at log-out, when the account
  is removed or its password changes. Scripts send the account's HTTP basic credentials instead, on every
  request. ``g.operator`` is the name of who is asking (None for no one) and ``g.role`` its role.
* A page asked for without either is a redirect to ``/login?next=<the page>``; wrong basic credentials are a 401.
* Actions (every ``POST``) need a signed-in account with the ``operator`` role (a viewer gets a 403) and the form's
  token. The token lives in the session: a browser sends the session cookie with any same-site request, so
  without it another page of the same site could act in an operator's name.
* Pages that only read may be seen without an account if ``open_reads_on_loopback`` is set and the request
  comes from 127.0.0.1 or ::1 (behind a proxy every request comes from the proxy: leave it off there).
* ``/healthz``, ``/readyz``, ``/login`` and static files are open: probes carry no credentials.
* Every answer forbids framing (``frame-ancestors 'none'``, ``X-Frame-Options``), loads scripts, styles and
  images only from the console itself (the templates have no inline script or style), and sends no referrer
  off the site. A redirect taken from a request goes only to a path of this site (:func:`safe_back`).
"""

from __future__ import annotations

import ipaddress
import secrets
from datetime import timedelta
from urllib.parse import urlsplit

from flask import Flask, abort, g, redirect, request, session, url_for
from flask.sessions import SecureCookieSessionInterface
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import TooManyRequests, Unauthorized
from werkzeug.wrappers import Response

from organism import operators
from organism.console.context import organism
from organism.observability.auth import basic_credentials
from organism.observability.settings import ObservabilitySettings

# Log-out is open too: it only ends the session the request carries (with the form's token).
OPEN_ENDPOINTS = frozenset({"probes.healthz", "probes.readyz", "static", "login.form", "login.sign_in",
                            "login.sign_out"})
TOKEN_FIELD = "csrf_token"
SESSION_HOURS = 12
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; "
                               "object-src 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


class _Sessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, the cookie marked ``Secure`` whenever the request came over https."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return request.is_secure or super().get_cookie_secure(app)


def safe_back(value: str | None, default: str) -> str:
    """``value`` if it is a path of this site (``/runs?x=1``), else ``default``: never another site's address.

    Refused: absolute URLs (``https://evil.example``), scheme-relative ones (``//evil``), backslashes that
    browsers read as slashes (``/\\evil``), and control characters they strip (``/\\t/evil``).
    """
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in value):
        return default
    parts = urlsplit(value)
    return value if not parts.scheme and not parts.netloc else default


def form_token() -> str:
    """This session's form token (made on first use), for templates to put in every form."""
    token = session.get(TOKEN_FIELD)
    if not isinstance(token, str):
        token = session[TOKEN_FIELD] = secrets.token_urlsafe(32)
    return token


def sign_in(account: operators.Account) -> None:
    """Start a fresh session for ``account`` (nothing of the session before it is kept)."""
    session.clear()
    session.permanent = True
    session["operator"], session["mark"] = account.name, account.mark


def _loopback(address: str | None) -> bool:
    try:
        return address is not None and ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def too_many(error: operators.TooManyFailures) -> TooManyRequests:
    return TooManyRequests(str(error), retry_after=error.retry_after_s)


def _signed_in(url: str) -> operators.Account | None:
    name, mark = session.get("operator"), session.get("mark")
    if not isinstance(name, str) or not isinstance(mark, str):
        return None
    account = operators.signed_in(url, name, mark)
    if account is None:  # removed, or its password changed since: the session ends
        session.clear()
    return account


def _by_basic_credentials(url: str) -> operators.Account | None:
    given = basic_credentials(request.headers.get("Authorization"))
    if given is None:
        return None
    try:
        account = operators.authenticate(url, *given, source=request.remote_addr or "?")
    except operators.TooManyFailures as error:
        raise too_many(error) from None
    if account is None:
        raise _challenge("wrong name or password")
    return account


def _check_form_token() -> None:
    sent = request.form.get(TOKEN_FIELD, "")
    if not sent or not secrets.compare_digest(sent, str(session.get(TOKEN_FIELD, ""))):
        abort(400, "the form is stale or came from another site: reload the page and try again")


def _challenge(why: str) -> Unauthorized:
    return Unauthorized(why, www_authenticate=WWWAuthenticate("basic", {"realm": "organism", "charset": "UTF-8"}))


def install(console: Flask, settings: ObservabilitySettings) -> None:
    """Guard every request of ``console`` as the module docstring says, and add the log-in pages."""
    from organism.console.login import login

    console.session_interface = _Sessions()
    console.config.update(SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_HTTPONLY=True,
                          PERMANENT_SESSION_LIFETIME=timedelta(hours=SESSION_HOURS))
    console.jinja_env.globals["form_token"] = form_token
    console.register_blueprint(login)

    @console.before_request
    def guard() -> Response | None:
        g.operator = g.role = None
        if request.endpoint in OPEN_ENDPOINTS:
            if request.method == "POST":
                _check_form_token()
            return None
        url = organism().settings.database
        account = _signed_in(url) or _by_basic_credentials(url)
        if account is not None:
            g.operator, g.role = account.name, account.role.value
        if request.method in ("GET", "HEAD"):
            if account is not None or (settings.open_reads_on_loopback and _loopback(request.remote_addr)):
                return None
            return redirect(url_for("login.form", next=request.full_path.rstrip("?")))
        if account is None:
            raise _challenge("sign in first: actions need an operator's account")
        if not account.may_act:
            abort(403, f"{account.name} is a viewer: viewers may read every page, but only an account with the "
                       "operator role may act")
        _check_form_token()
        return None

    @console.after_request
    def headers(response: Response) -> Response:
        response.headers.update(HEADERS)
        return response
