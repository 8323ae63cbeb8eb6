"""The store's tables: workflow runs, their nodes, and the reports they leave.

The task id is the correlation key: a node row is keyed by the Celery task id of the skill call it tracks.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class RunStatus(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"  # a scheduled firing that did not start: the workflow's previous run was still open
    CANCELLED = "cancelled"  # an operator revoked its nodes

    @property
    def finished(self) -> bool:
        return self in (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.SKIPPED, RunStatus.CANCELLED)


# A run that has not finished: the only state any writer may move a run out of.
OPEN_RUNS = (RunStatus.PENDING.value, RunStatus.RUNNING.value)


class NodeStatus(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    RETRYING = "retrying"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"  # revoked with its run before it finished


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON, datetime: DateTime(timezone=True)}


class Run(Base):
    """One execution of a workflow, unique by its run key (``daily-sync:2026-11-23``)."""

    __tablename__ = "organism_runs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    workflow: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20), default=RunStatus.PENDING.value)
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    generation: Mapped[int] = mapped_column(Integer, default=0)  # canvases published for this run, minus one
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    deadline_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
    # What happened to the run besides its nodes' work, oldest first: [{"at", "event", "detail"}] (a resume, a
    # failure by the watchdog); assigned anew on each change, as the JSON type does not see edits in place.
    history: Mapped[list[Any]] = mapped_column(JSON, default=list)

    nodes: Mapped[list[Node]] = relationship(back_populates="run", order_by="Node.phase, Node.name")

    @property
    def degraded(self) -> list[str]:
        """What the run did without, as 'node: dependency (reason)' lines."""
        return [f"{n.name}: {d['dependency']} ({d['reason']})" for n in self.nodes for d in (n.degraded or [])]


class Node(Base):
    """One skill call of a run, created with the run (pending) and updated by the skill's hooks."""

    __tablename__ = "organism_nodes"
    __table_args__ = (UniqueConstraint("run_id", "name"),)

    task_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("organism_runs.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    phase: Mapped[int] = mapped_column(Integer)
    phase_name: Mapped[str] = mapped_column(String(50))
    skill: Mapped[str] = mapped_column(String(200))
    organ: Mapped[str] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(String(20), default=NodeStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    first_started_at: Mapped[datetime | None]  # the first attempt's start: with finished_at, the node's total time
    started_at: Mapped[datetime | None]  # the latest attempt's start
    finished_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict[str, Any] | None]
    degraded: Mapped[list[Any] | None] = mapped_column(JSON)  # [{"dependency", "reason"}] when it did without

    run: Mapped[Run] = relationship(back_populates="nodes")


class Report(Base):
    """What a finished run found, as stored by its last node."""

    __tablename__ = "organism_reports"

    run_id: Mapped[str] = mapped_column(ForeignKey("organism_runs.id", ondelete="CASCADE"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    summary: Mapped[str] = mapped_column(Text)
    body: Mapped[dict[str, Any]]


class ScheduleMark(Base):
    """The newest firing of a workflow's schedule that beat has handled (started, or passed over by its policy)."""

    __tablename__ = "organism_schedule_marks"

    workflow: Mapped[str] = mapped_column(String(100), primary_key=True)
    schedule: Mapped[str] = mapped_column(String(200), primary_key=True)  # Schedule.ident: cron and zone
    fired_at: Mapped[datetime]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class DeadLetterStatus(enum.StrEnum):
    DEAD = "dead"
    REPLAYED = "replayed"
    PURGED = "purged"


class DeadLetter(Base):
    """A message Organism gave up on: what it was, why, and every attempt; replayable from here."""

    __tablename__ = "organism_dead_letters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    task_id: Mapped[str] = mapped_column(String(64), unique=True)
    task_name: Mapped[str] = mapped_column(String(200), index=True)
    organ: Mapped[str | None] = mapped_column(String(50))
    run_id: Mapped[str | None] = mapped_column(String(36), index=True)
    node: Mapped[str | None] = mapped_column(String(100))
    args: Mapped[list[Any]] = mapped_column(JSON, default=list)
    kwargs: Mapped[dict[str, Any]] = mapped_column(default=dict)
    reason: Mapped[str] = mapped_column(String(30))
    error_type: Mapped[str] = mapped_column(String(200))
    error_message: Mapped[str] = mapped_column(Text)
    traceback: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[list[Any]] = mapped_column(JSON, default=list)
    delivery_count: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(20), default=DeadLetterStatus.DEAD.value, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    replayed_at: Mapped[datetime | None]
    replayed_as: Mapped[str | None] = mapped_column(String(64))
    replay_of: Mapped[int | None] = mapped_column(ForeignKey("organism_dead_letters.id"))
    # What a replay with edited arguments published ({"args", "kwargs"}); args and kwargs stay as the call had them.
    replay_arguments: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # False when its arguments had to be escaped or cut to fit the store, or are not a list and a mapping.
    replayable: Mapped[bool] = mapped_column(Boolean, default=True)


class Delivery(Base):
    """How often a message was delivered, counted only from its first redelivery on (off the hot path)."""

    __tablename__ = "organism_deliveries"

    task_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Attempt(Base):
    """One failed attempt of a call that is retried or deferred; its dead letter takes them over.

    Written only when an attempt fails, so a call that succeeds at once costs nothing here.
    """

    __tablename__ = "organism_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    task_id: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime]
    action: Mapped[str] = mapped_column(String(10))  # failures.Action: retry, defer or dead
    error: Mapped[str] = mapped_column(Text)


class OperatorRole(enum.StrEnum):
    VIEWER = "viewer"  # reads every page
    OPERATOR = "operator"  # also acts: start, cancel, resume, replay, purge


class Operator(Base):
    """A named account of the console and Flower, with its password as a strong one-way hash."""

    __tablename__ = "organism_operators"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)  # since the last successful one
    last_failed_at: Mapped[datetime | None]


class AuditEntry(Base):
    """One operator action, appended and never changed: who, when, what, from where, and the outcome.

    ``hash`` covers the entry's fields and ``prev_hash`` (the hash of the entry before it); ``signature`` is the
    deployment's Ed25519 signature of ``hash``.
    """

    __tablename__ = "organism_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(index=True)
    who: Mapped[str] = mapped_column(String(64), index=True)
    source: Mapped[str] = mapped_column(String(200))  # from where: an address, or the host of a CLI call
    action: Mapped[str] = mapped_column(String(50))
    target: Mapped[str] = mapped_column(String(200))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    outcome: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    signature: Mapped[str] = mapped_column(String(128))
