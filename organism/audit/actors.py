"""Who acts and from where, as a command-line action is recorded (the console's are in organism.console.audit)."""

from __future__ import annotations

import getpass
import os
import socket
from typing import NamedTuple

from organism.settings import Settings


class Actor(NamedTuple):
    who: str
    source: str


def cli_actor(settings: Settings) -> Actor:
    """The ``operator`` setting (``ORGANISM_OPERATOR``), else the operating system's user; ``cli@<host>``."""
    return Actor(settings.operator or _os_user(), f"cli@{socket.gethostname()}")


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a container's uid with no name in /etc/passwd and no USER variable
        return f"uid {os.getuid()}"
