"""A skill that is handed secrets, for the redaction tests."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from organism.errors import PermanentError
from organism.skill import skill


@skill(organ="perception", name="test.connect", effect="read-only")
def connect(url: str, api_key: str, fail: bool = False) -> dict[str, Any]:
    """Pretend to open ``url`` with ``api_key``: a session token derived from the key, or, with ``fail``, a
    permanent error that quotes both."""
    if fail:
        raise PermanentError(f"cannot reach {url} with api_key={api_key}")
    return {"host": urlsplit(url).hostname, "session": f"Bearer {api_key[::-1]}"}
