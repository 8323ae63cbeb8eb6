"""Each organ's worker: its pool, concurrency, prefetch, child and time limits, and what a cluster gives it.

Settings name only what differs (``[workers.perception] concurrency = 4``, or
``ORGANISM_WORKERS__PERCEPTION__CONCURRENCY=4``); :meth:`organism.settings.Settings.worker` fills the rest from the
organ's defaults here, then the general ones. ``organism worker``, :class:`organism.local.LocalWorkers`, the
Procfile, the compose file and the Kubernetes manifests all read that one resolved :class:`OrganWorker`.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field

Bound = Literal["cpu", "io"]
Pool = Literal["prefork", "threads", "solo"]

# Kubernetes quantities, as a Deployment's resources take them: CPU in cores or millicores, memory in bytes with
# an optional decimal or binary suffix.
_CPU = re.compile(r"\d+(\.\d+)?m?")
_MEMORY = re.compile(r"\d+(\.\d+)?(k|M|G|T|Ki|Mi|Gi|Ti)?")


def _cpu(value: str) -> str:
    if not _CPU.fullmatch(value):
        raise ValueError("give CPU as cores or millicores, e.g. '1', '0.5' or '500m'")
    return value


def _memory(value: str) -> str:
    if not _MEMORY.fullmatch(value):
        raise ValueError("give memory as bytes with a suffix, e.g. '512Mi', '2Gi' or '1G'")
    return value


Cpu = Annotated[str, AfterValidator(_cpu)]
Memory = Annotated[str, AfterValidator(_memory)]
# What only a prefork pool can do: a thread cannot be replaced as a child is. (Time limits apply to every pool: on
# threads and solo a watchdog applies them, organism.failures.thread_limits.)
PREFORK_ONLY = ("max_tasks_per_child", "max_memory_per_child_mb")


class WorkerSettings(BaseModel):
    """One organ's worker as settings give it: a field left unset takes the organ's default."""

    model_config = {"extra": "forbid", "frozen": True}  # frozen: resolve() keeps what it made of each

    bound: Bound | None = Field(
        default=None, description="What the organ's skills wait on: cpu (prefork) or io (threads).")
    pool: Pool | None = Field(default=None, description="Celery pool; default: prefork for cpu, threads for io.")
    concurrency: int | None = Field(default=None, ge=1, description="Child processes or threads per worker.")
    prefetch: int | None = Field(default=None, ge=1, description=(
        "Messages each slot holds ahead (late acks keep them safe: a message its worker never acked is "
        "redelivered)."))
    max_tasks_per_child: int | None = Field(default=None, ge=0, description=(
        "A child is replaced after this many tasks; 0: never (prefork only)."))
    max_memory_per_child_mb: int | None = Field(default=None, ge=0, description=(
        "A child whose peak resident memory passes this is replaced after its task; 0: never (prefork only)."))
    soft_time_limit_s: float | None = Field(default=None, gt=0, description=(
        "A skill past this is interrupted: organism.errors.SkillTimeout, retried unless the skill declares it "
        "permanent; default: task_soft_time_limit_s."))
    time_limit_s: float | None = Field(default=None, gt=0, description=(
        "A skill past this is killed with its child (a thread is abandoned), then retried or dead-lettered the same "
        "way; default: task_time_limit_s."))
    cpu_request: Cpu | None = Field(default=None, description="CPU request of one worker, e.g. '500m' (Kubernetes).")
    cpu_limit: Cpu | None = Field(default=None, description=(
        "CPU limit of one worker (Kubernetes; compose: cpus); unset: none."))
    memory_request: Memory | None = Field(default=None, description=(
        "Memory request of one worker, e.g. '512Mi' (Kubernetes; compose: mem_reservation)."))
    memory_limit: Memory | None = Field(default=None, description=(
        "Memory limit of one worker, e.g. '2Gi' (Kubernetes; compose: mem_limit); default: what its children may "
        "grow to, plus 256Mi."))
    min_replicas: int | None = Field(default=None, ge=0, description=(
        "Fewest workers the queue scaler keeps (0: none while the queue is empty)."))
    max_replicas: int | None = Field(default=None, ge=1, description="Most workers the queue scaler starts.")
    queue_length_target: int | None = Field(default=None, ge=1, description=(
        "Queued messages per worker the scaler aims for."))


@dataclass(frozen=True)
class OrganWorker:
    """One organ's worker with every value resolved."""

    organ: str
    bound: Bound
    pool: Pool
    concurrency: int
    prefetch: int
    max_tasks_per_child: int
    max_memory_per_child_mb: int
    soft_time_limit_s: float
    time_limit_s: float
    cpu_request: str
    cpu_limit: str | None
    memory_request: str
    memory_limit: str
    min_replicas: int
    max_replicas: int
    queue_length_target: int

    def summary(self) -> str:
        """One line an operator reads beside the worker's command: its pool and the limits it applies."""
        if self.pool != "prefork":
            slots = f"{self.concurrency} thread{'s' * (self.concurrency != 1)}" if self.pool == "threads" else \
                "1 process"
            return (f"{self.pool}, {slots}, prefetch {self.prefetch}; time limits {self.soft_time_limit_s:g} s soft, "
                    f"{self.time_limit_s:g} s hard (a watchdog's); no child limits (only a prefork pool has children)")
        line = (f"prefork, {self.concurrency} process{'es' * (self.concurrency != 1)}, prefetch {self.prefetch}; "
                f"time limits {self.soft_time_limit_s:g} s soft, {self.time_limit_s:g} s hard")
        replaced = [f"past {self.max_memory_per_child_mb} MB" if self.max_memory_per_child_mb else "",
                    f"after {self.max_tasks_per_child} tasks" if self.max_tasks_per_child else ""]
        if any(replaced):
            line += f"; a process is replaced {' or '.join(filter(None, replaced))}"
        return line


# The general defaults, then what the organ's bound changes, then each shipped organ's own; an organ a deployment
# adds takes the general ones and its bound's.
GENERAL = WorkerSettings(bound="cpu", concurrency=1, prefetch=1, max_tasks_per_child=0, max_memory_per_child_mb=1024,
                         cpu_request="250m", memory_request="512Mi", min_replicas=1, max_replicas=4,
                         queue_length_target=20)
# An io organ's skills mostly wait on the network: many threads share one process, and each slot holds its next
# message (prefetch 2), so a slot that finishes starts the next call at once instead of after a broker round trip
# (measured: docs/benchmarks.md, I/O-bound skills).
BOUND_DEFAULTS: dict[str, WorkerSettings] = {
    "cpu": WorkerSettings(pool="prefork"),
    "io": WorkerSettings(pool="threads", concurrency=20, prefetch=2),
}
# Perception takes the Daily Sync's fan-out of short calls: prefetch 2 keeps each slot's next message in hand while
# the last one's ack goes out (a few per cent on no-op calls: docs/benchmarks.md, Levers); 4 x the 360 s time limit
# plus a retry's countdown would outlast RabbitMQ's consumer_timeout (organism doctor's check).
ORGAN_DEFAULTS: dict[str, WorkerSettings] = {
    "perception": WorkerSettings(concurrency=2, prefetch=2, cpu_request="1", memory_request="1Gi", max_replicas=8),
}


@functools.lru_cache(maxsize=256)  # asked on every call sent and received (a skill's time limits): 20 us each time
def resolve(organ: str, given: WorkerSettings | None, soft_time_limit_s: float, time_limit_s: float) -> OrganWorker:
    """``organ``'s worker: ``given`` over the organ's defaults over its bound's (:data:`BOUND_DEFAULTS`) over
    :data:`GENERAL`; time limits from the task defaults where none is set. The memory limit defaults to what its
    children may grow to, plus the main process."""
    layers = (GENERAL, ORGAN_DEFAULTS.get(organ), given)
    bound = next(layer.bound for layer in reversed(layers) if layer is not None and layer.bound is not None)
    merged: dict[str, object] = {}
    for layer in (GENERAL, BOUND_DEFAULTS[bound], *layers[1:]):
        if layer is not None:
            merged.update({name: getattr(layer, name) for name in layer.model_fields_set})
    if merged["pool"] != "prefork" and given is not None:
        inert = [name for name in PREFORK_ONLY if name in given.model_fields_set]
        if inert:
            raise ValueError(f"ORGANISM_WORKERS[{organ}]: {', '.join(inert)} apply only to the prefork pool (a "
                             f"thread cannot be replaced as a child is); its pool is {merged['pool']}")
    merged.setdefault("soft_time_limit_s", soft_time_limit_s)
    merged.setdefault("time_limit_s", time_limit_s)
    merged.setdefault("cpu_limit", None)
    if "memory_limit" not in merged:
        children = int(merged["concurrency"]) if merged["pool"] == "prefork" else 1  # type: ignore[call-overload]
        per_child = int(merged["max_memory_per_child_mb"]) or 1024  # type: ignore[call-overload]
        merged["memory_limit"] = f"{children * per_child + 256}Mi"
    return OrganWorker(organ=organ, **merged)  # type: ignore[arg-type]
