"""The audit trail's page (newest first, filtered by who, action and time, a page at a time, with the chain's
check), and :func:`audited_request`, with which the console's actions record themselves.

Who acts is the signed-in operator (``g.operator``); where from is the address the request came from. An
``X-Forwarded-For`` header is not used: any client can send one, so behind a proxy the entry names the proxy,
unless the deployment wraps the console in a proxy fix that it trusts.
"""

from __future__ import annotations

import json
from contextlib import AbstractContextManager
from math import ceil
from typing import Any

from flask import Blueprint, abort, g, render_template, request

from organism.audit import Actor, Outcome, audited
from organism.audit.keys import AuditKeyError, signing_key
from organism.audit.read import Filters, actions, count, entries, parse_since
from organism.audit.verify import Verdict, verify
from organism.console import zones
from organism.console.context import organism

audit = Blueprint("audit", __name__, url_prefix="/audit")
PER_PAGE = 50
MAX_PAGE = 10**6


def actor() -> Actor:
    """Who makes this request (the signed-in operator; organism.console.security lets no action through without
    one) and from where."""
    return Actor(getattr(g, "operator", None) or "anonymous", request.remote_addr or "unknown")


def audited_request(*, action: str, target: str, detail: dict[str, Any]) -> AbstractContextManager[Outcome]:
    """Record the block as ``action`` by this request's operator; without a usable audit key, a 503 page says so
    before the action is done."""
    settings = organism().settings
    try:
        signing_key(settings)
    except AuditKeyError as error:
        abort(503, f"the audit trail cannot sign, so nothing was done: {error}")
    who, source = actor()
    return audited(settings.database, who=who, source=source, action=action, target=target, detail=detail)


def _verdict() -> Verdict | None:
    """The whole trail checked with the deployment's key; None before the first entry made the key."""
    settings = organism().settings
    try:
        public = signing_key(settings, create=False).public_key()
    except AuditKeyError:
        return None
    return verify(settings.database, public)


def _page() -> int:
    given = request.args.get("page", "").strip() or "1"
    if not (given.isascii() and given.isdigit() and 1 <= int(given) <= MAX_PAGE):
        abort(400, f"page: {given!r} is not a page number (1, 2, 3, … up to {MAX_PAGE})")
    return int(given)


@audit.get("")
def index() -> str:
    url = organism().settings.database
    given = {name: request.args.get(name, "").strip() for name in ("who", "action", "since")}
    try:  # a time without a zone is in the zone the page shows times in
        since = parse_since(given["since"], zones.chosen()) if given["since"] else None
    except ValueError as error:
        abort(400, f"since: {error}")
    filters = Filters(given["who"] or None, given["action"] or None, since)
    page, total = _page(), count(url, filters)
    shown = entries(url, filters, PER_PAGE, (page - 1) * PER_PAGE)
    details = {entry.id: json.dumps(entry.detail, indent=2, ensure_ascii=False) for entry in shown}
    return render_template("audit.html", entries=shown, details=details, given=given, actions=actions(url),
                           kept={name: value for name, value in given.items() if value}, page=page,
                           pages=max(1, ceil(total / PER_PAGE)), total=total, verdict=_verdict())
