"""Where a no-op skill call's time goes: py-spy on the producer and on the worker while batches run.

One Organism cluster of the profile (the perception worker as ``organism worker`` starts it); for ``--seconds``
the benchmark sends batches of no-op skill calls and awaits their results, while py-spy samples this process
(wall time, idle included: the producer also waits) and the worker's main process and pool processes (CPU only).
Each table lists the functions whose frames were on the stack in the largest share of a process's samples
(inclusive), leaving out the frames every sample shares (the worker's start-up, the event loop), and then the
functions the samples were in themselves (self). py-spy is a benchmark-only dependency
(``pip install -e '.[bench]'``) and needs to be allowed to read other processes' memory (root, or ptrace).

    .venv/bin/python -m bench.dispatch_profile --profile production
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from bench.common import PROFILES, BenchError, Report, cluster, main, parser, step
from bench.dispatch import WARMUP, batch_s
from bench.noop_tasks import SKILL

_LINE = re.compile(r":\d+\)$")  # a frame's line number: samples are counted by function
BOILERPLATE = 0.9  # a frame on the stack of more than this share of a process's samples says nothing


def py_spy() -> str:
    found = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if found is None:
        raise BenchError("py-spy is not installed; it is a benchmark-only dependency: .venv/bin/pip install -e "
                         "'.[bench]'")
    return found


def record(pid: int, out: Path, seconds: float, idle: bool, subprocesses: bool) -> subprocess.Popen[bytes]:
    command = [py_spy(), "record", "-p", str(pid), "-f", "raw", "-o", str(out), "-d", f"{seconds:g}",
               "--nonblocking", *(["--idle"] if idle else []), *(["--subprocesses"] if subprocesses else [])]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def by_process(raw: Path) -> dict[str, list[tuple[list[str], int]]]:
    """py-spy's collapsed stacks, split by process: the worker's main one, its pool processes, or this one."""
    stacks: dict[str, list[tuple[list[str], int]]] = {}
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        marks = [i for i, frame in enumerate(frames) if frame.startswith("process ")]
        role = "producer" if not marks else ("worker main process" if marks[-1] == 0 else "pool processes")
        frames = [_LINE.sub(")", frame) for frame in frames[(marks[-1] + 1) if marks else 0:]
                  if not frame.startswith("thread ")]
        if frames:
            stacks.setdefault(role, []).append((frames, int(count)))
    return stacks


def top(stacks: list[tuple[list[str], int]], n: int) -> tuple[int, list[tuple[str, float]], list[tuple[str, float]]]:
    """Samples, the ``n`` functions most often on the stack (leaving out :data:`BOILERPLATE`), and the ``n``
    functions most often at its top; shares in per cent."""
    total = sum(count for _, count in stacks)
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    for frames, count in stacks:
        for frame in set(frames):
            inclusive[frame] += count
        own[frames[-1]] += count
    shown = [(frame, 100 * count / total) for frame, count in inclusive.most_common()
             if count / total <= BOILERPLATE][:n]
    return total, shown, [(frame, 100 * count / total) for frame, count in own.most_common(n)]


def measure(report: Report) -> None:
    args = report.args
    with tempfile.TemporaryDirectory(prefix="organism-bench-profile-") as tmp, \
            cluster(args.profile, ["bench.noop_tasks"], ["perception"], with_store=False) as organism:
        task = organism.app.tasks[SKILL]
        batch_s(organism.app, task, WARMUP)
        worker = organism.workers.processes["perception"].pid
        files = {"worker": Path(tmp) / "worker.txt", "producer": Path(tmp) / "producer.txt"}
        spies = [record(worker, files["worker"], args.seconds + 1, idle=False, subprocesses=True),
                 record(os.getpid(), files["producer"], args.seconds + 1, idle=True, subprocesses=False)]
        time.sleep(0.5)  # py-spy attached
        step(f"sending batches of {args.calls} calls for {args.seconds:g} s under py-spy")
        calls, began = 0, time.perf_counter()
        while time.perf_counter() - began < args.seconds:
            batch_s(organism.app, task, args.calls)
            calls += args.calls
        elapsed = time.perf_counter() - began
        for spy in spies:
            _, error = spy.communicate(timeout=60)
            if spy.returncode:
                raise BenchError(f"py-spy failed: {error.decode(errors='replace').strip()[-500:]}")
        stacks = {**by_process(files["producer"]), **by_process(files["worker"])}
    step(f"{calls} calls in {elapsed:.1f} s ({calls / elapsed:.0f}/s while sampled)")
    for role in ("producer", "worker main process", "pool processes"):
        total, inclusive, own = top(stacks.get(role, []), args.top)
        what = "wall time, waiting included" if role == "producer" else "CPU samples"
        rows = [[f"{share:.1f} %", frame, *((f"{own[i][1]:.1f} %", own[i][0]) if i < len(own) else ("", ""))]
                for i, (frame, share) in enumerate(inclusive)]
        report.table(f"{role}: {total} samples ({what}), {args.profile} profile, no-op skill",
                     ["on the stack", "function (file)", "itself", "function (file)"], rows)


def arguments() -> argparse.Namespace:
    p = parser(__doc__.split("\n")[0])
    p.add_argument("--profile", choices=PROFILES, default="production")
    p.add_argument("--calls", type=int, default=1000, help="calls per batch (default 1000)")
    p.add_argument("--seconds", type=float, default=12, help="how long to sample (default 12)")
    p.add_argument("--top", type=int, default=15, help="functions per table (default 15)")
    return p.parse_args()


if __name__ == "__main__":
    raise SystemExit(main("bench.dispatch_profile", arguments(), measure))
