"""docker-compose.yml, rendered from the settings: the services every deployment has, and a worker per organ with
its organ's limits.

The whole file is rendered, not only its workers: compose reads one file (plus docker-compose.override.yml, the
place for local changes), and the worker services share the file's YAML anchors, which cannot cross files. So
everything but the workers lives verbatim in ``compose.template.yml`` beside this module, comments included, and
each worker service is written in below it as text (a YAML dump would drop the comments and the anchors).

A worker's container takes the organ's memory limit and request and its CPU limit, in the units compose reads
(``mem_limit``, ``mem_reservation``, ``cpus``: accepted by both ``docker compose`` and docker-compose 1.29), and a
stop grace of its hard time limit plus Kubernetes' grace, so that a stopping worker finishes what it runs. The
workers settings the rendering was given travel into every container as ``ORGANISM_WORKERS``, so that the limits
a worker applies are the ones its container was sized for, whatever config file the image holds.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from importlib import resources

from organism.deploy.kubernetes import GRACE_S
from organism.organ_settings import OrganWorker
from organism.settings import Settings

TEMPLATE = "compose.template.yml"
WORKERS = "__WORKERS__\n"
WORKER_SETTINGS = "__WORKER_SETTINGS__\n"
_QUANTITY = re.compile(r"(\d+(?:\.\d+)?)(m|k|M|G|T|Ki|Mi|Gi|Ti)?")
_FACTORS = {None: 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
            "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}

SERVICE = """\
  {organ}:
    <<: *organism
    # {summary}
    command: ["organism", "worker", "--organ", "{organ}"]
    depends_on: *ready
{resources}    stop_grace_period: {grace_s}s
    healthcheck:
      test: ["CMD-SHELL", "organism health worker --node {organ}@$$HOSTNAME"]
      <<: *probe

"""


def memory(quantity: str) -> str:
    """A Kubernetes memory quantity ("1Gi", "2304Mi", "1G") in compose's byte units ("1g", "2304m", "1000000000b")."""
    number, unit = _parts(quantity)
    size = int(number * _FACTORS[unit])
    for suffix, factor in (("g", 2**30), ("m", 2**20), ("k", 2**10)):
        if size % factor == 0:
            return f"{size // factor}{suffix}"
    return f"{size}b"


def cpus(quantity: str) -> str:
    """A Kubernetes CPU quantity ("500m", "2") as compose's cpus ("0.5", "2")."""
    number, unit = _parts(quantity)
    return f"{number / 1000 if unit == 'm' else number:f}".rstrip("0").rstrip(".")


def _parts(quantity: str) -> tuple[Decimal, str | None]:
    # Kubernetes' quantity grammar is small, and the settings check it (organism.organ_settings); a client library
    # for it alone would be a large dependency for a few lines.
    found = _QUANTITY.fullmatch(quantity)
    if found is None:
        raise ValueError(f"not a Kubernetes quantity: {quantity!r}")
    return Decimal(found.group(1)), found.group(2)


def service(worker: OrganWorker) -> str:
    """The compose service of ``worker``'s organ."""
    limits = [f"mem_limit: {memory(worker.memory_limit)}", f"mem_reservation: {memory(worker.memory_request)}"]
    if worker.cpu_limit is not None:
        limits.append(f"cpus: {cpus(worker.cpu_limit)}")
    return SERVICE.format(organ=worker.organ, summary=worker.summary(),
                          resources="".join(f"    {line}\n" for line in limits),
                          grace_s=f"{worker.time_limit_s + GRACE_S:g}")


def worker_settings(settings: Settings) -> str:
    """The environment line that gives every container the workers settings the rendering was given (none if it
    was given none): the containers' workers then apply the limits their containers are sized for."""
    given = {organ: worker.model_dump(exclude_unset=True) for organ, worker in settings.workers.items()}
    given = {organ: fields for organ, fields in given.items() if fields}
    if not given:
        return ""
    text = json.dumps(given, sort_keys=True, separators=(",", ":")).replace("$", "$$")  # compose interpolates $
    return f"    ORGANISM_WORKERS: '{text.replace(chr(39), chr(39) * 2)}'\n"  # YAML's single quotes


def render(settings: Settings) -> str:
    """docker-compose.yml for ``settings``."""
    template = resources.files(__package__).joinpath(TEMPLATE).read_text(encoding="utf-8")
    return (template.replace(WORKER_SETTINGS, worker_settings(settings))
            .replace(WORKERS, "".join(service(settings.worker(organ)) for organ in settings.organs)))
