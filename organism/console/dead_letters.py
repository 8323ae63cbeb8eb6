"""Dead letters: filter, inspect (traceback, attempts), replay one or a selection, purge.

Replaying goes through :func:`organism.failures.dead_letters.replay`, as ``organism dlq replay`` does:
a fresh retry budget, at most one publish per record. A selection that holds skills declared ``unsafe`` is shown
again on a confirmation page first (replaying them may repeat their side effects); confirming replays with
``force``.
"""

from __future__ import annotations

import json

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from organism.audit.details import replay_detail
from organism.console import dead_letter_filters, security, zones
from organism.console.audit import audited_request
from organism.console.context import organism
from organism.failures import dead_letters as records
from organism.failures.replay import Arguments, ReplayRefused
from organism.failures.replay import replay as replay_letter
from organism.store.models import DeadLetter, DeadLetterStatus

dead_letters = Blueprint("dead_letters", __name__, url_prefix="/dead-letters")


def _unsafe(name: str) -> bool:
    task = organism().tasks.get(name)
    return str(getattr(getattr(task, "skill", None), "effect", "unsafe")) == "unsafe"


def _replay_state(letter: DeadLetter) -> str | None:
    if not letter.replayed_as:
        return None
    return str(organism().AsyncResult(letter.replayed_as).state)


@dead_letters.get("")
def index() -> str:
    """The list, newest first, filtered by run, skill, status and time, a page of it at a time."""
    url = organism().settings.database
    chosen = dead_letter_filters.read(request.args, zones.chosen())
    paging = dead_letter_filters.Paging(chosen.page, records.count(url, **chosen.query))
    letters = records.find(url, limit=dead_letter_filters.PER_PAGE, offset=paging.offset, **chosen.query)
    states = {letter.id: _replay_state(letter) for letter in letters
              if letter.status == DeadLetterStatus.REPLAYED.value}
    return render_template("dead_letters.html", letters=letters, filters=chosen, paging=paging,
                           skills=records.skills(url), statuses=dead_letter_filters.STATUSES, unsafe=_unsafe,
                           states=states, run_keys=records.run_keys(url, {one.run_id for one in letters if one.run_id}))


@dead_letters.app_template_global()
def dead_letters_of(run_id: str) -> tuple[int, int]:
    """How many dead letters run ``run_id`` has, and how many of them are still dead (its page links to them)."""
    url = organism().settings.database
    return records.count(url, run=run_id, status=None), records.count(url, run=run_id)


@dead_letters.get("/<int:letter_id>")
def show(letter_id: int) -> str:
    return _page(letter_id)


def _page(letter_id: int, edited: str | None = None, error: str | None = None) -> str:
    """A dead letter's page; after a refused edited replay, with the operator's text and why it was refused."""
    app = organism()
    letter = records.get(app.settings.database, letter_id)
    if letter is None:
        abort(404, f"no dead letter {letter_id}")
    arguments = json.dumps({"args": letter.args, "kwargs": letter.kwargs}, indent=2, ensure_ascii=False)
    published = json.dumps(letter.replay_arguments, indent=2, ensure_ascii=False) if letter.replay_arguments else None
    return render_template("dead_letter.html", letter=letter, arguments=arguments, unsafe=_unsafe(letter.task_name),
                           replay_state=_replay_state(letter), flower=app.settings.observability.flower_url,
                           edited=arguments if edited is None else edited, edit_error=error, published=published)


def _selected() -> list[int]:
    try:
        return sorted({int(value) for value in request.form.getlist("id")})
    except ValueError:
        abort(400, "dead letter ids are numbers")


@dead_letters.post("/replay")
def replay() -> str | Response:
    app = organism()
    ids = _selected()
    if not ids:
        flash("select at least one dead letter to replay", "warning")
        return redirect(url_for(".index"))
    force = request.form.get("force") == "1"
    letters = [letter for one in ids if (letter := records.get(app.settings.database, one)) is not None]
    risky = [letter for letter in letters if _unsafe(letter.task_name)]
    if risky and not force:
        return render_template("confirm_replay.html", ids=ids, risky=risky, count=len(ids))
    refused = 0
    for one in ids:
        try:
            with audited_request(action="dlq.replay", target=f"dead-letter {one}",
                                 detail=replay_detail(app.settings.database, one, force=force)) as entry:
                entry.outcome_detail = done = str(replay_letter(app, one, force=force))
            flash(done, "ok")
        except ReplayRefused as error:
            refused += 1
            flash(f"not replayed: {error}", "error")
    if refused and len(ids) > 1:
        flash(f"{len(ids) - refused} of {len(ids)} replayed; {refused} not, each said why above", "warning")
    return redirect(security.safe_back(request.form.get("back"), url_for(".index")))


@dead_letters.post("/<int:letter_id>/replay-edited")
def replay_edited(letter_id: int) -> tuple[str, int] | Response:
    """Replay one letter with the arguments the operator edited on its page, checked against the skill first."""
    app = organism()
    text, force = request.form.get("arguments", ""), request.form.get("force") == "1"
    try:
        given = json.loads(text)
        if not isinstance(given, dict) or not isinstance(given.get("args", []), list) or not isinstance(
                given.get("kwargs", {}), dict) or set(given) - {"args", "kwargs"}:
            raise ValueError('give {"args": [...], "kwargs": {...}}')
        edited = Arguments(given.get("args", []), given.get("kwargs", {}))
        with audited_request(action="dlq.replay", target=f"dead-letter {letter_id}",
                             detail=replay_detail(app.settings.database, letter_id, force=force,
                                                  edited={"args": edited.args, "kwargs": edited.kwargs})) as entry:
            done = replay_letter(app, letter_id, force=force, arguments=edited)
            entry.outcome_detail = str(done)
    except (ValueError, ReplayRefused) as error:  # json.JSONDecodeError is a ValueError
        return _page(letter_id, text, f"not replayed: {error}"), 400
    flash(f"{done} (with edited arguments)", "ok")
    return redirect(url_for(".show", letter_id=letter_id))


@dead_letters.post("/purge")
def purge() -> Response:
    app = organism()
    ids = _selected()
    if not ids:
        flash("select at least one dead letter to purge", "warning")
    else:
        with audited_request(action="dlq.purge", target="dead-letters " + ", ".join(map(str, ids)),
                             detail={"ids": ids}) as entry:
            purged = records.purge(app.settings.database, ids)
            entry.outcome_detail = f"purged {purged}"
        flash(f"purged {purged} dead letter(s)", "ok")
    return redirect(url_for(".index"))
