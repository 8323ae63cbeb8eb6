"""Flower behind the store's named operators: the log-in form and who is asking, for ``organism flower``.

Flower's own sign-in is OAuth (``--auth`` with ``--auth_provider``, a Tornado handler at ``/login`` that sets its
signed ``user`` cookie) or one shared ``--basic-auth`` list. Organism plugs :class:`OperatorLogin` in as the
provider (a form checked by :func:`organism.operators.authenticate`) and, with :func:`install`, replaces
Flower's ``BaseHandler.get_current_user`` (what ``tornado.web.authenticated`` asks on every page and API call)
by :func:`current_operator`, which reads the account back from the store on every request: a removed account or
a changed password ends its Flower sessions at once, scripts may send an account's basic credentials instead,
and a viewer may read but not act (Flower's POST API: revoke, rate limits, pool and consumer changes). The
``--auth`` pattern only switches Flower's cookie sessions and their XSRF checks on.
"""

from __future__ import annotations

from pathlib import Path

import tornado.web
from flower.views import BaseHandler
from flower.views.auth import get_next_url

from organism import operators
from organism.observability.auth import basic_credentials
from organism.settings import get_settings

PROVIDER = f"{__name__}.OperatorLogin"
AUTH_PATTERN = "organism-operators"  # any value Flower accepts: current_operator does not read it
COOKIE = "user"  # Flower's: its /logout clears it
SESSION_DAYS = 0.5
FORM = str(Path(__file__).with_name("templates") / "flower_login.html")
_flowers_own = BaseHandler.get_current_user


class OperatorLogin(BaseHandler):
    """``/login``: a form for an operator's name and password; a good pair sets the signed session cookie."""

    def get(self) -> None:
        self._form(200)

    def post(self) -> None:
        name, password = self.get_body_argument("name", "").strip(), self.get_body_argument("password", "")
        try:
            account = operators.authenticate(get_settings().database, name, password, source=self.request.remote_ip)
        except operators.TooManyFailures as error:
            self.set_header("Retry-After", str(error.retry_after_s))
            self._form(429, str(error), name)
            return
        if account is None:
            self._form(401, "wrong name or password", name)
            return
        self.set_secure_cookie(COOKIE, f"{account.name} {account.mark}", expires_days=SESSION_DAYS,
                               secure=self.request.protocol == "https")
        self.redirect(get_next_url(self))

    def _form(self, status: int, error: str | None = None, name: str = "") -> None:
        self.set_status(status)
        self.render(FORM, error=error, name=name)


def current_operator(handler: BaseHandler) -> str | None:
    """The name of the operator ``handler``'s request comes from: its session cookie, else basic credentials.

    Wrong basic credentials are a 401 (and too many a 429), as Flower's own basic auth answers; a viewer's
    request that is not a read is a 403. Flower run without our provider (``flower_allow_anonymous``) keeps
    Flower's own answer.
    """
    if handler.application.options.auth_provider != PROVIDER:
        return _flowers_own(handler)
    url = get_settings().database
    account = _from_cookie(handler, url) or _from_basic_credentials(handler, url)
    if account is None:
        return None
    if handler.request.method not in ("GET", "HEAD") and not account.may_act \
            and not isinstance(handler, OperatorLogin):
        raise tornado.web.HTTPError(403, f"{account.name} is a viewer: only an account with the operator role may act")
    return account.name


def _from_cookie(handler: BaseHandler, url: str) -> operators.Account | None:
    value = handler.get_secure_cookie(COOKIE, max_age_days=SESSION_DAYS)
    name, _, mark = (value or b"").decode(errors="replace").partition(" ")
    return operators.signed_in(url, name, mark) if name and mark else None


def _from_basic_credentials(handler: BaseHandler, url: str) -> operators.Account | None:
    given = basic_credentials(handler.request.headers.get("Authorization"))
    if given is None:
        return None
    try:
        account = operators.authenticate(url, *given, source=handler.request.remote_ip)
    except operators.TooManyFailures as error:
        handler.set_header("Retry-After", str(error.retry_after_s))
        raise tornado.web.HTTPError(429, str(error)) from None
    if account is None:
        raise tornado.web.HTTPError(401)
    return account


def install() -> None:
    """Make :func:`current_operator` the ``get_current_user`` of every Flower page and API call."""
    BaseHandler.get_current_user = current_operator
