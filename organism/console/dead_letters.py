"""Dead letters: filter, inspect (traceback, attempts), replay one or a selection, purge.

Replaying goes through :func:`organism.failures.dead_letters.replay`, as ``organism dlq replay`` does:
a fresh retry budget, at most one publish per record. A selection that holds skills declared ``unsafe`` is shown
again on a confirmation page first (replaying them may repeat their side effects); confirming replays with
``force``.
"""

from __future__ import annotations

import json
from datetime import datetime

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from organism.console.context import organism
from organism.failures import dead_letters as records
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
    app = organism()
    skill = request.args.get("skill") or None
    status = DeadLetterStatus(request.args.get("status") or DeadLetterStatus.DEAD.value)
    since_text = request.args.get("since") or ""
    try:
        since = datetime.fromisoformat(since_text) if since_text else None
    except ValueError:
        abort(400, f"since: {since_text!r} is not a date like 2026-11-23 or 2026-11-23T06:00")
    letters = records.find(app.settings.database, skill=skill, since=since, status=status)
    skills = sorted({letter.task_name for letter in records.find(app.settings.database, status=None)})
    states = {letter.id: _replay_state(letter) for letter in letters} if status is DeadLetterStatus.REPLAYED else {}
    return render_template("dead_letters.html", letters=letters, skills=skills, skill=skill, status=status.value,
                           statuses=[s.value for s in DeadLetterStatus], since=since_text, unsafe=_unsafe,
                           states=states)


@dead_letters.get("/<int:letter_id>")
def show(letter_id: int) -> str:
    app = organism()
    letter = records.get(app.settings.database, letter_id)
    if letter is None:
        abort(404, f"no dead letter {letter_id}")
    arguments = json.dumps({"args": letter.args, "kwargs": letter.kwargs}, indent=2, ensure_ascii=False)
    return render_template("dead_letter.html", letter=letter, arguments=arguments, unsafe=_unsafe(letter.task_name),
                           replay_state=_replay_state(letter), flower=app.settings.observability.flower_url)


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
    for one in ids:
        try:
            flash(f"dead letter {one} replayed as task {records.replay(app, one, force=force)}", "ok")
        except records.ReplayRefused as refused:
            flash(f"not replayed: {refused}", "error")
    return redirect(request.form.get("back") or url_for(".index"))


@dead_letters.post("/purge")
def purge() -> Response:
    app = organism()
    ids = _selected()
    if not ids:
        flash("select at least one dead letter to purge", "warning")
    else:
        flash(f"purged {records.purge(app.settings.database, ids)} dead letter(s)", "ok")
    return redirect(url_for(".index"))
