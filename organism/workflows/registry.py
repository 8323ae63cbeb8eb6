"""The declared workflows, by name, and the schedules in force for each (declared, or replaced by settings)."""

from __future__ import annotations

from datetime import timedelta

from celery import Celery

from organism.errors import OrganismError
from organism.settings import ScheduleSetting, Settings
from organism.workflows.declaration import CatchUp, DeclarationError, Overlap, Schedule, Workflow

_WORKFLOWS: dict[str, Workflow] = {}


class UnknownWorkflow(OrganismError):
    pass


def declare(workflow: Workflow) -> Workflow:
    """Register ``workflow`` under its name (declaring the same name twice with another object is an error)."""
    known = _WORKFLOWS.get(workflow.name)
    if known is not None and known.build is not workflow.build:
        raise DeclarationError(f"workflow {workflow.name!r} is declared twice ({known.build.__module__} and "
                               f"{workflow.build.__module__})")
    _WORKFLOWS[workflow.name] = workflow
    return workflow


def workflows(app: Celery) -> list[Workflow]:
    """Every workflow the app's task modules declare, by name."""
    app.loader.import_default_modules()
    return [_WORKFLOWS[name] for name in sorted(_WORKFLOWS)]


def workflow(app: Celery, name: str) -> Workflow:
    """The workflow declared as ``name``.

    Raises:
        UnknownWorkflow: none is, naming those that are.
    """
    app.loader.import_default_modules()
    try:
        return _WORKFLOWS[name]
    except KeyError:
        known = ", ".join(sorted(_WORKFLOWS)) or "none"
        raise UnknownWorkflow(f"unknown workflow {name!r}; known workflows: {known}") from None


def schedules(workflow: Workflow, settings: Settings) -> tuple[Schedule, ...]:
    """The schedules in force for ``workflow``: those of the ``schedules`` setting for it, else its declared ones.

    Raises:
        DeclarationError: a schedule in settings is wrong, naming the setting.
    """
    given = settings.schedules.get(workflow.name)
    if given is None:
        return workflow.schedules
    return tuple(_from_setting(workflow.name, i, s) for i, s in enumerate(given))


def _from_setting(name: str, index: int, given: ScheduleSetting) -> Schedule:
    try:
        return Schedule(given.cron, given.zone, CatchUp(given.catch_up), timedelta(hours=given.catch_up_window_h),
                        Overlap(given.overlap))
    except DeclarationError as error:
        raise DeclarationError(f"setting ORGANISM_SCHEDULES[{name}][{index}]: {error}") from None


def check_settings(app: Celery) -> None:
    """Refuse schedules in settings for a workflow nobody declares, or that are wrong (one line each)."""
    settings: Settings = app.settings
    declared = {w.name for w in workflows(app)}
    for name in settings.schedules:
        if name not in declared:
            raise DeclarationError(f"setting ORGANISM_SCHEDULES names unknown workflow {name!r}; known workflows: "
                                   f"{', '.join(sorted(declared)) or 'none'}")
        schedules(_WORKFLOWS[name], settings)
