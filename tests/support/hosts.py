"""Simulated hosts: Linux network namespaces on this machine whose processes reach the services only through
bridges of their own, so that a host can be cut off for real.

A host is a network namespace with nothing but its loopback (``ip netns``): its processes cannot reach this
machine's 127.0.0.1. Each service port it may use (RabbitMQ, Redis, PostgreSQL, a local HTTP server) is bridged by
two ``socat`` processes: in the host, one listens on 127.0.0.1:<port> and forwards each connection to a UNIX socket
(socket files cross network namespaces); here, one listens on that socket and forwards to the service's
127.0.0.1:<port>. A process on a host therefore uses the very URLs a process here uses, and no traffic goes
anywhere but to loopback.

* :meth:`Host.cut_off` kills both ends of the host's bridges: every connection it had drops at once (each service
  sees it close, and RabbitMQ hands the host's unacknowledged messages to other consumers), and it can open no
  new one. Its processes keep running, reaching nothing.
* :meth:`Host.kill` SIGKILLs every process in its namespace (``ip netns pids``) as well: the host is gone.

Names carry the creating process's id (``orgh<pid>-<host>``), so two sessions never collide, and
:func:`remove_stale` removes what a session that died left behind (its namespaces with their processes, and its
bridges here, whose ids it listed in its folder) before a new one starts. Needs root, iproute2's ``ip`` and
``socat`` (scripts/test installs the last two).

Waits here raise :class:`HostError` rather than failing a test, so that the benchmark (bench/hosts.py) can use
them too.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from celery import Celery

from organism.local import LocalWorkers, worker_command
from organism.settings import Settings

PREFIX = "orgh"
STATE = Path(tempfile.gettempdir()) / "organism-hosts"  # a folder per session: sockets, logs, bridge ids
BRIDGES = "bridges.pids"  # in a session's folder: the process group of each bridge end started here
_OWNED = re.compile(rf"^{PREFIX}(\d+)-")
READY_TIMEOUT_S = 120
SERVICE_PORTS = [5672, 6379, 5432]  # RabbitMQ, Redis and PostgreSQL on this machine


class HostError(RuntimeError):
    """A host could not be built, or its processes do not answer; the message says which and why."""


def require_tools() -> None:
    """Raise :class:`HostError`, saying how to fix it, unless this process can build hosts."""
    if os.geteuid() != 0:
        raise HostError("simulated hosts need root (ip netns add); run these tests as root")
    missing = [tool for tool in ("ip", "socat") if shutil.which(tool) is None]
    if missing:
        raise HostError(f"simulated hosts need {' and '.join(missing)}: apt-get install iproute2 socat "
                        "(scripts/test installs them)")


def worker_name(organ: str, host: str) -> str:
    """The name of ``organ``'s worker on ``host`` (Celery adds ``@<machine>``)."""
    return f"{organ}-{host}"


def host_of(node: str) -> str:
    """The host of a worker's node name (``relationship-h2@machine`` → ``h2``)."""
    return node.split("@", 1)[0].rsplit("-", 1)[-1]


def remove_stale() -> list[str]:
    """Remove what sessions whose process has exited left behind; return the namespaces removed."""
    removed = []
    for name in _namespaces():
        owner = _OWNED.match(name)
        if owner and not process_alive(int(owner.group(1))):
            _kill_namespace(name)
            _ip("netns", "delete", name)
            removed.append(name)
    if STATE.exists():
        for folder in STATE.iterdir():
            if folder.name.isdigit() and not process_alive(int(folder.name)):
                _kill_listed_bridges(folder)
                shutil.rmtree(folder, ignore_errors=True)
    return removed


@dataclass
class Host:
    """One simulated host: a network namespace, its bridges to ``ports`` here, and a folder for its files."""

    name: str
    namespace: str
    folder: Path
    ports: tuple[int, ...]
    bridges: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def connected(self) -> bool:
        return bool(self.bridges) and all(bridge.poll() is None for bridge in self.bridges)

    def create(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        _ip("netns", "add", self.namespace)
        _ip("-n", self.namespace, "link", "set", "lo", "up")

    def command(self, argv: list[str]) -> list[str]:
        """``argv`` as run on this host."""
        return ["ip", "netns", "exec", self.namespace, *argv]

    def spawn(self, argv: list[str], env: Mapping[str, str] | None = None,
              log: str = "bridges.log") -> subprocess.Popen[bytes]:
        """Start ``argv`` on this host in a process group of its own, its output appended to ``log`` in the host's
        folder."""
        with (self.folder / log).open("ab") as out:
            return subprocess.Popen(self.command(argv), env=None if env is None else dict(env), stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True)

    def connect(self) -> None:
        """Bridge every port into the host; return once each listens on the host's loopback."""
        for port in self.ports:
            path = self.folder / f"{port}.sock"
            path.unlink(missing_ok=True)
            with (self.folder / "bridges.log").open("ab") as out:
                here = subprocess.Popen(["socat", f"UNIX-LISTEN:{path},fork", f"TCP:127.0.0.1:{port}"],
                                        stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
            with (self.folder.parent / BRIDGES).open("a") as listed:
                listed.write(f"{here.pid}\n")
            self.bridges.append(here)
            _until(path.exists, 10, f"the socket {path} of host {self.name}")
            there = self.spawn(["socat", f"TCP-LISTEN:{port},bind=127.0.0.1,fork,reuseaddr", f"UNIX-CONNECT:{path}"])
            self.bridges.append(there)
            _until(partial(_listening, there.pid, port), 10, f"host {self.name} to listen on 127.0.0.1:{port}")

    def cut_off(self) -> None:
        """Kill both ends of every bridge, with every connection they carried."""
        for bridge in self.bridges:
            if bridge.poll() is None:
                os.killpg(bridge.pid, signal.SIGKILL)  # a bridge's forked connections share its group
            bridge.wait()
        self.bridges.clear()

    def reaches(self, port: int) -> bool:
        """Whether a process on this host can open a connection to 127.0.0.1:``port``."""
        probe = f"import socket; exit(socket.socket().connect_ex(('127.0.0.1', {port})) != 0)"
        return subprocess.run(self.command([sys.executable, "-c", probe]), capture_output=True).returncode == 0

    def kill(self) -> None:
        """Cut the host off and SIGKILL every process in its namespace."""
        self.cut_off()
        _kill_namespace(self.namespace)

    def remove(self) -> None:
        self.kill()
        _ip("netns", "delete", self.namespace)


class HostWorkers(LocalWorkers):
    """:class:`LocalWorkers` on one host: each organ's worker runs in the host's namespace, named
    ``<organ>-<host>``, its log in the host's folder."""

    def __init__(self, host: Host, settings: Settings, env: dict[str, str], organs: list[str]) -> None:
        super().__init__(settings, env=env, log_dir=host.folder / "logs", organs=organs)
        self.host = host

    def start(self, organ: str) -> subprocess.Popen[bytes]:
        command = worker_command(self.settings, [organ], name=worker_name(organ, self.host.name))
        with (self.log_dir / f"worker-{organ}.log").open("ab") as log:
            process = subprocess.Popen(self.host.command(command), env=self.env, stdout=log,
                                       stderr=subprocess.STDOUT, start_new_session=True)
        self.processes[organ] = process
        return process


class Hosts:
    """Hosts named ``names``, each bridged to ``ports`` here and running a worker for each of ``organs``.

    ``env_for(host)`` is the environment of the host's processes (its own data folder, say). Use as a context
    manager, or :meth:`start` and then :meth:`close` in a ``finally``.
    """

    def __init__(self, names: list[str], ports: list[int], settings: Settings,
                 env_for: Callable[[Host], dict[str, str]], organs: list[str]) -> None:
        self.folder = STATE / str(os.getpid())
        self.settings, self.env_for, self.organs = settings, env_for, organs
        self.hosts = {name: Host(name, f"{PREFIX}{os.getpid()}-{name}", self.folder / name, tuple(ports))
                      for name in names}
        self.workers: dict[str, HostWorkers] = {}

    def __getitem__(self, name: str) -> Host:
        return self.hosts[name]

    def __iter__(self) -> Iterator[Host]:
        return iter(self.hosts.values())

    def worker_names(self, organs: list[str] | None = None, hosts: list[str] | None = None) -> list[str]:
        """The node names of ``organs``' workers (default: all) on ``hosts`` (default: all)."""
        machine = socket.gethostname()
        return [f"{worker_name(organ, host)}@{machine}" for host in hosts or list(self.hosts)
                for organ in organs or self.organs]

    def start(self) -> Hosts:
        require_tools()
        remove_stale()
        self.folder.mkdir(parents=True, exist_ok=True)
        for host in self:
            host.create()
            host.connect()
            self.workers[host.name] = HostWorkers(host, self.settings, self.env_for(host), self.organs)
            self.workers[host.name].__enter__()
        return self

    def restore(self, name: str) -> None:
        """Bring a host back from a cut or a kill: everything on it SIGKILLed (a cut-off worker must not come back
        with what it held), its bridges anew, its workers started again."""
        host, workers = self.hosts[name], self.workers[name]
        host.kill()
        for process in workers.processes.values():
            process.wait()
        workers.processes.clear()
        host.connect()
        workers.__enter__()

    def ready(self, app: Celery, timeout_s: float = READY_TIMEOUT_S) -> None:
        """Restore every host that is cut off and start every worker that exited; then wait until each answers."""
        for name, host in self.hosts.items():
            if not host.connected:
                self.restore(name)
            for organ in self.workers[name].dead():
                self.workers[name].start(organ)
        pending = set(self.worker_names())
        deadline = time.monotonic() + timeout_s
        while pending:
            for name, workers in self.workers.items():
                if workers.dead():
                    organ = workers.dead()[0]
                    raise HostError(f"the {organ} worker on host {name} exited; its log:\n{workers.log_tail(organ)}")
            for reply in app.control.ping(destination=sorted(pending), timeout=1.0):
                pending -= set(reply)
            if pending and time.monotonic() > deadline:
                raise HostError(f"no answer within {timeout_s:.0f}s from {', '.join(sorted(pending))}")

    def close(self) -> None:
        """Remove every host with everything on it, and this session's folder (a finalizer: a host that was never
        made is skipped). Nothing on a host needs a clean exit: its broker namespace is gone next."""
        for host in self:
            with contextlib.suppress(HostError):  # never made; or a process outlived SIGKILL: the next session's
                host.remove()  # remove_stale() takes what is left
        for workers in self.workers.values():
            for process in workers.processes.values():
                process.wait()
            workers.processes.clear()
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> Hosts:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(self, *_: object) -> None:
        self.close()


# -- processes and namespaces ------------------------------------------------------------------------------------

def _ip(*args: str) -> str:
    done = subprocess.run(["ip", *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise HostError(f"ip {' '.join(args)}: {done.stderr.strip() or f'exit status {done.returncode}'}")
    return done.stdout


def process_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists (the owner of a session's namespaces, say)."""
    return Path(f"/proc/{pid}").exists()


def _until(condition: Callable[[], object], timeout_s: float, what: str) -> None:
    # tests.support.services.wait_for fails a test (pytest.fail); the benchmark needs an exception it can report.
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise HostError(f"timed out after {timeout_s:.0f}s waiting for {what}")
        time.sleep(0.02)


def _listening(pid: int, port: int) -> bool:
    """Whether the network namespace of process ``pid`` has a TCP socket listening on 127.0.0.1:``port``."""
    try:
        table = Path(f"/proc/{pid}/net/tcp").read_text().splitlines()[1:]
    except OSError:
        return False
    wanted = f"0100007F:{port:04X}"
    return any(fields[1] == wanted and fields[3] == "0A" for fields in (line.split() for line in table))


def _kill_namespace(namespace: str, timeout_s: float = 10) -> None:
    """SIGKILL every process in ``namespace`` until none is left (a dying worker may still fork)."""
    if namespace not in _namespaces():
        return

    def empty() -> bool:
        pids = [int(pid) for pid in _ip("netns", "pids", namespace).split()]
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return not pids

    _until(empty, timeout_s, f"the processes of {namespace} to exit")


def _namespaces() -> list[str]:
    return [line.split(" ", 1)[0] for line in _ip("netns", "list").splitlines() if line.strip()]


def _kill_listed_bridges(folder: Path) -> None:
    """SIGKILL the bridge ends a dead session started here, each only if it still is a socat serving that session's
    folder (a process id may have been given to another process since)."""
    listed = folder / BRIDGES
    if not listed.exists():
        return
    for pid in {int(line) for line in listed.read_text().split()}:
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv[0].endswith(b"socat") and any(str(folder).encode() in arg for arg in argv):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
