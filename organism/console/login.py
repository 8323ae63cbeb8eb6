"""``/login`` and ``/logout``: a named operator signs in with a form and gets a signed session (security.py).

A wrong name or password is answered like an unknown one, after the same work; repeated failures for one name
are slowed down and logged by :func:`organism.operators.authenticate`.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from organism import operators
from organism.console import security
from organism.console.context import organism

login = Blueprint("login", __name__)


def _form(status: int = 200, error: str | None = None, name: str = "", back: str = "",
          headers: dict[str, str] | None = None) -> tuple[str, int, dict[str, str]]:
    page = render_template("login.html", error=error, name=name, next=back)
    return page, status, headers or {}


@login.get("/login")
def form() -> tuple[str, int, dict[str, str]]:
    return _form(back=security.safe_back(request.args.get("next"), ""))


@login.post("/login")
def sign_in() -> Response | tuple[str, int, dict[str, str]]:
    name, password = request.form.get("name", "").strip(), request.form.get("password", "")
    back = security.safe_back(request.form.get("next"), "")
    try:
        account = operators.authenticate(organism().settings.database, name, password,
                                         source=request.remote_addr or "?")
    except operators.TooManyFailures as error:
        return _form(429, str(error), name, back, {"Retry-After": str(error.retry_after_s)})
    if account is None:
        return _form(401, "wrong name or password", name, back)
    security.sign_in(account)
    return redirect(back or url_for("runs.index"))


@login.post("/logout")
def sign_out() -> Response:
    session.clear()
    flash("signed out", "ok")
    return redirect(url_for(".form"))
