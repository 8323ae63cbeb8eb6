"""``organism metrics``: the one Prometheus scrape endpoint, a WSGI app served by waitress.

Run one per host that runs workers: it reads that host's multiprocess folder (a shared volume serves several
containers). The cluster-wide part (broker, store) is the same from every exporter; scrape it from one, or
aggregate with ``max by``. Every scrape needs credentials: the scrape token as ``Authorization: Bearer`` (what
Prometheus sends with ``authorization: {credentials_file: ...}``) or a named operator's basic credentials.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from prometheus_client import make_wsgi_app

from organism.observability.auth import REALM, may_scrape
from organism.observability.collector import registry

if TYPE_CHECKING:
    from organism.app import Organism

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def metrics_app(app: Organism) -> WSGIApp:
    """The exporter for ``app``'s settings: ``/metrics`` (any path, like prometheus_client's own server).

    Without a scrape token or an operator account it refuses every scrape (``organism metrics`` will not start).
    """
    settings = app.settings
    scrape: WSGIApp = make_wsgi_app(registry(app, settings.observability.metrics_path(settings.data_dir)))

    def guarded(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if may_scrape(environ.get("HTTP_AUTHORIZATION"), settings.observability, settings.database,
                      environ.get("REMOTE_ADDR", "?")):
            return scrape(environ, start_response)
        start_response("401 Unauthorized", [("WWW-Authenticate", REALM), ("Content-Type", "text/plain")])
        return [b"credentials required\n"]

    return guarded
