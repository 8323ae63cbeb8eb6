"""Error pages: whatever goes wrong, a page in the console's style with one line saying what is wrong and one saying
what to do, as ``/readyz`` says it.

An error whose cause is a broker, store or result backend that cannot be reached (as
:func:`organism.cli.doctor.failed_service` tells) is a 503 with the fix ``organism doctor`` would give; any other
unexpected error is a 500, its traceback in the console's log (Flask logs it before this page is made), never on
the page. A view refuses bad input with ``abort(400, "<parameter>: <what is wrong>")``.
"""

from __future__ import annotations

import logging

from flask import Flask, render_template, request
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.wrappers import Response

from organism.cli.doctor import failed_service
from organism.console.context import organism

logger = logging.getLogger(__name__)

# What is wrong when a view said nothing more, and what to do, by status code.
PROBLEMS = {400: "the request is malformed", 403: "you may not do this", 404: "there is no such page",
            405: "this page does not take {method}", 500: "the console failed while serving {path}",
            503: "a service the console needs is unavailable"}
FIXES = {400: "correct it in the address or the form, then try again",
         403: "sign in as an operator with the operator role, or ask one to do it",
         404: "check the address, or start again from the pages above",
         405: "use the page's own links and buttons",
         500: "try again; if it fails again, the console's log holds the traceback",
         503: "run `organism doctor` to see what is down, then try again"}


def error_page(error: HTTPException) -> Response:
    """``error`` as a page of the console, with its headers (``Allow``, ``WWW-Authenticate``) kept."""
    code = error.code or 500
    response = error.get_response()
    problem, fix = _explained(error, code)
    original = getattr(error, "original_exception", None)
    if original is not None and (down := failed_service(organism().settings, original)) is not None:
        code, problem, fix = 503, f"the {down.name} at {down.url} is {down.problem}", down.fix or FIXES[503]
        response.status_code = code
    try:
        page = render_template("error.html", code=code, title=HTTP_STATUS_CODES.get(code, "Error"), problem=problem,
                               fix=fix)
    except Exception:  # the page itself failed: the same two lines, in plain text
        logger.exception("could not render the error page for %s", request.path)
        response.set_data(f"{problem} — {fix}\n")
        response.content_type = "text/plain; charset=utf-8"
        return response
    response.set_data(page)
    response.content_type = "text/html; charset=utf-8"
    return response


def _explained(error: HTTPException, code: int) -> tuple[str, str]:
    """What is wrong (the view's own words, where it gave some) and what to do."""
    said = error.description if error.description != type(error).description else None
    if code >= 500 and getattr(error, "original_exception", None) is not None:
        said = None  # an exception's text may hold what the page must not show; the log has it
    default = PROBLEMS.get(code, error.name.lower()).format(method=request.method, path=request.path)
    return said or default, FIXES.get(code, "go back and try again")


def install(console: Flask) -> None:
    console.register_error_handler(HTTPException, error_page)
