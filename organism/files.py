"""Files written whole: a reader, or a crash part-way, never leaves half of one in place."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def write_whole(path: Path, data: bytes, mode: int, exclusive: bool = False) -> None:
    """Put ``data`` at ``path`` with ``mode``, whole: written to a temporary file beside it (created 0600, synced
    to disk, then given ``mode``) and moved into place.

    It replaces any file at ``path``; with ``exclusive`` it is linked instead, and a file already there wins (two
    processes making the same file at once keep one). The folder must exist.
    """
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, mode)
        if exclusive:
            with contextlib.suppress(FileExistsError):
                os.link(temporary, path)
        else:
            os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
