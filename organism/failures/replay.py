"""Replaying a dead letter: the call published again with a fresh retry budget, inside its run if it was a node.

A dead letter of a workflow node is replayed *into its run*: the node gets the new task id (the same run, the
same node, a new attempt) and the message carries the run's headers. When the replayed call succeeds, its worker
heals the run (:func:`organism.workflows.heal.replayed_node_succeeded`): once no node of the run has failed any
more, the phases after them run, reusing every result already stored, and the run ends with its report.

A replay is refused, with one line that says why, before anything is published: a purged or cut record, a
message refused for its signature (unless replayed with edited arguments), an unknown skill, an unsafe skill
without ``force``, arguments the skill no longer accepts, or a node that its run has since sent again (a resume)
or that has succeeded.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from organism.brokers.queues import DEAD_LETTER_QUEUE
from organism.errors import InvalidArguments, OrganismError
from organism.failures.dead_letters import REPLAY_HEADER
from organism.failures.outages import unreachable
from organism.headers import NODE_HEADER, RUN_HEADER
from organism.security import refusals
from organism.security.payloads import PayloadError
from organism.security.sealed_calls import is_sealed, keyring, open_call, seal
from organism.store import session
from organism.store.db import rowcount
from organism.store.models import DeadLetter, DeadLetterStatus, Node, NodeStatus, Run, RunStatus, utcnow
from organism.workflows.heal import REPLAYED
from organism.workflows.start import note


class ReplayRefused(OrganismError):
    """A dead letter cannot be replayed as asked; the message says which and why, and nothing was published."""


@dataclass(frozen=True)
class Arguments:
    """What a replay publishes, when an operator edited it: positional and keyword arguments."""

    args: list[Any]
    kwargs: dict[str, Any]


@dataclass(frozen=True)
class Replayed:
    """What a replay did: the new task, and for a run's node, which of the run's nodes are still failed."""

    letter_id: int
    task_id: str
    run_key: str | None = None
    node: str | None = None
    waiting: tuple[str, ...] = ()
    earlier: bool = False  # the letter had been replayed before: task_id is that replay's

    def __str__(self) -> str:
        if self.earlier:
            return f"dead letter {self.letter_id} was replayed before, as task {self.task_id}"
        said = f"dead letter {self.letter_id} replayed as task {self.task_id}"
        if self.run_key is None:
            return said
        said += f", node {self.node} of run {self.run_key}"
        if self.waiting:
            return (f"{said}; the run stays failed until {', '.join(self.waiting)} also succeed "
                    f"({len(self.waiting)} to go: replay their dead letters, or resume the run)")
        return f"{said}; once it succeeds the run goes on"


def replay(app: Any, letter_id: int, force: bool = False, arguments: Arguments | None = None) -> Replayed:
    """Publish dead letter ``letter_id`` again as a new task with a fresh retry budget; into its run if it has one.

    ``arguments`` replaces the call's arguments (checked against the skill first); the record keeps the original
    ones and notes what was published (a sensitive skill's sealed, as its call was). Replaying a record twice
    publishes once. The record and the node are committed before the message is published (the worker looks its
    node up by the new task id); if the broker refuses it, both are put back and :class:`ReplayRefused` says so.

    Raises:
        ReplayRefused: one line naming the letter and why nothing was published.
    """
    url, new_id = app.settings.database, str(uuid.uuid4())
    with session(url) as s:
        letter = s.get(DeadLetter, letter_id, with_for_update=True)
        if letter is None:
            raise ReplayRefused(f"no dead letter {letter_id}; `organism dlq list` shows them")
        if letter.status == DeadLetterStatus.REPLAYED.value:
            return Replayed(letter_id, letter.replayed_as or "", earlier=True)
        task = _task(app, letter, force, arguments)
        args, kwargs = (arguments.args, arguments.kwargs) if arguments else (letter.args, letter.kwargs)
        kept = {"args": args, "kwargs": kwargs}  # what the record notes of edited arguments
        try:
            if is_sealed(kwargs):  # a sensitive skill's call is checked and sent opened (and sealed again as sent)
                args, kwargs = open_call(keyring(app.settings), task.name, args, kwargs)
            task.check_call(args, kwargs)
            if getattr(task.skill, "sensitive", False):
                kept["args"], kept["kwargs"] = seal(keyring(app.settings), task.name, args, kwargs)
        except InvalidArguments as error:
            raise ReplayRefused(f"dead letter {letter_id}: {error}; replay it with edited arguments") from None
        except PayloadError as error:
            raise ReplayRefused(f"dead letter {letter_id}: {error}") from None
        # A guarded UPDATE claims the letter: SQLite does not lock the row read above, so two replays at once
        # could otherwise both publish.
        if not rowcount(s.execute(update(DeadLetter).where(DeadLetter.id == letter_id,
                                                           DeadLetter.status == DeadLetterStatus.DEAD.value).values(
                status=DeadLetterStatus.REPLAYED.value, replayed_at=utcnow(), replayed_as=new_id,
                replay_arguments=kept if arguments else None))):
            return Replayed(letter_id, s.scalar(select(DeadLetter.replayed_as).where(DeadLetter.id == letter_id))
                            or "", earlier=True)
        headers: dict[str, Any] = {REPLAY_HEADER: letter_id}
        run, waiting = _into_run(s, letter, new_id)
        if run is not None:
            headers |= {RUN_HEADER: run.id, NODE_HEADER: letter.node}
        replayed = Replayed(letter_id, new_id, run.key if run else None, letter.node if run else None, waiting)
        old_task_id = letter.task_id
    try:
        task.apply_async(args=args, kwargs=kwargs, task_id=new_id, headers=headers)
    except unreachable(app) as error:
        _undo(url, letter_id, old_task_id, new_id)
        raise ReplayRefused(f"dead letter {letter_id}: not replayed, the broker refused the message "
                            f"({type(error).__name__}: {error}); it is still dead: start the broker (`organism "
                            "doctor` checks it) and replay it again") from None
    return replayed


def _task(app: Any, letter: DeadLetter, force: bool, arguments: Arguments | None) -> Any:
    """The skill ``letter`` replays to, if it may be replayed as asked."""
    if letter.status == DeadLetterStatus.PURGED.value:
        raise ReplayRefused(f"dead letter {letter.id} was purged")
    if letter.reason in refusals.REASONS and arguments is None:
        raise ReplayRefused(f"dead letter {letter.id}: the message was refused as {letter.reason} (nothing shows it "
                            "came from Organism); its arguments are evidence, not a call: replay it with the "
                            "arguments you mean to run (--arguments)")
    if not letter.replayable and arguments is None:
        raise ReplayRefused(f"dead letter {letter.id}: its arguments were cut or escaped to fit the store, or are "
                            f"not a list and a mapping; the message as sent is on the {DEAD_LETTER_QUEUE} queue "
                            "(replay it with edited arguments)")
    app.loader.import_default_modules()
    task = app.tasks.get(letter.task_name)
    if task is None or not hasattr(task, "check_call"):
        raise ReplayRefused(f"dead letter {letter.id}: unknown skill {letter.task_name!r}; nothing to replay to")
    if getattr(task.skill, "effect", "unsafe") == "unsafe" and not force:
        raise ReplayRefused(f"dead letter {letter.id}: {letter.task_name} is declared unsafe (replaying may repeat "
                            "its side effect); pass --force to replay it anyway")
    return task


def _into_run(s: Session, letter: DeadLetter, new_id: str) -> tuple[Run | None, tuple[str, ...]]:
    """Make ``letter``'s node, if its run still has it failed, the node of task ``new_id``; return the run (None
    for a call outside any run, or whose run is gone) and its other failed nodes."""
    if not letter.run_id or not letter.node:
        return None, ()
    run = s.scalar(select(Run).where(Run.id == letter.run_id).with_for_update())  # the run's row before its nodes'
    node = s.scalar(select(Node).where(Node.run_id == letter.run_id, Node.name == letter.node).with_for_update())
    if run is None or node is None:
        return None, ()
    where = f"dead letter {letter.id}: node {node.name} of run {run.key}"
    if run.status == RunStatus.CANCELLED.value:
        raise ReplayRefused(f"{where}: the run was cancelled; start the workflow again instead")
    if node.status == NodeStatus.SUCCEEDED.value:
        raise ReplayRefused(f"{where} has succeeded since (the run was resumed); nothing to replay")
    if node.task_id != letter.task_id:
        raise ReplayRefused(f"{where} was sent again since, as task {node.task_id} ({node.status}); "
                            "nothing to replay")
    s.execute(update(Node).where(Node.task_id == node.task_id).values(
        task_id=new_id, status=NodeStatus.RETRYING.value, error=f"replay of dead letter {letter.id} queued",
        first_started_at=None, started_at=None, finished_at=None))
    note(run, REPLAYED, f"dead letter {letter.id}: {node.name} sent again as task {new_id}")
    waiting = tuple(sorted(n.name for n in run.nodes if n.status == NodeStatus.FAILED.value and n.name != node.name))
    return run, waiting


def _undo(url: str, letter_id: int, old_task_id: str, new_id: str) -> None:
    """Put a replay whose message the broker refused back as it was: the letter dead, its node failed."""
    with session(url) as s:
        s.execute(update(DeadLetter).where(DeadLetter.id == letter_id, DeadLetter.replayed_as == new_id).values(
            status=DeadLetterStatus.DEAD.value, replayed_at=None, replayed_as=None, replay_arguments=None))
        s.execute(update(Node).where(Node.task_id == new_id).values(
            task_id=old_task_id, status=NodeStatus.FAILED.value, error="its replay could not be sent: the broker "
                                                                       "refused the message"))
